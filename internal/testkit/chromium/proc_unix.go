//go:build !windows

package chromium

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ownGroup puts Chromium and its helper processes in a new process group.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group led by the Chromium we started (its
// PID), so renderer and zygote helpers go with it.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// groupAlive lists the live (not zombie) processes of process group pgid,
// read from /proc. On systems without /proc it reports none.
func groupAlive(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var alive []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			alive = append(alive, pid)
		}
	}
	return alive
}

// killGroupAndWait kills process group pgid and waits (at most d) until
// none of its processes is alive, so that nothing writes into the
// browser's profile any more when the caller removes it. It returns the
// PIDs still alive after d.
func killGroupAndWait(pgid int, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		alive := groupAlive(pgid)
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}
