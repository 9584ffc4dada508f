package listener

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// portHolder asks lsof (part of macOS) who listens on the port. It returns
// "" when lsof is missing, slow, or cannot see the process.
func portHolder(ctx context.Context, port int) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/lsof", "-nP", "-iTCP:"+strconv.Itoa(port), "-sTCP:LISTEN", "-Fpc").Output()
	if err != nil && len(out) == 0 {
		return ""
	}
	return parseLsof(string(out))
}

// parseLsof reads lsof -F output: lines "p<pid>" then "c<command>".
func parseLsof(out string) string {
	var pid, cmd string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "p") && pid == "":
			pid = line[1:]
		case strings.HasPrefix(line, "c") && cmd == "":
			cmd = line[1:]
		}
	}
	if pid == "" {
		return ""
	}
	if cmd == "" {
		return "pid " + pid
	}
	return "pid " + pid + " (" + cmd + ")"
}
