package listener

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portHolder finds the process listening on TCP port via /proc/net/tcp{,6}
// (socket inode) and /proc/<pid>/fd (who owns that inode). It returns ""
// when it cannot tell (e.g. the holder belongs to another user and we are
// not root).
func portHolder(ctx context.Context, port int) string {
	return findHolder(ctx, "/proc", port)
}

func findHolder(ctx context.Context, proc string, port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		for _, ino := range listeningInodes(filepath.Join(proc, f), port) {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	ents, err := os.ReadDir(proc)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if ctx.Err() != nil {
			return ""
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(proc, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				comm, _ := os.ReadFile(filepath.Join(proc, e.Name(), "comm"))
				name := strings.TrimSpace(string(comm))
				if name == "" {
					return fmt.Sprintf("pid %d", pid)
				}
				return fmt.Sprintf("pid %d (%s)", pid, name)
			}
		}
	}
	return ""
}

// listeningInodes parses a /proc/net/tcp table: columns sl, local_address
// (hex IP:hex port), rem_address, st (0A = LISTEN), ..., inode (10th).
func listeningInodes(path string, port int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[0] == "sl" {
			continue
		}
		if strings.HasSuffix(fields[1], want) && fields[3] == "0A" && fields[9] != "0" {
			out = append(out, fields[9])
		}
	}
	return out
}
