//go:build !windows

package chromiumtest

import (
	"os/exec"
	"syscall"
)

// ownGroup puts Chromium and its helper processes in a new process group.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group led by the Chromium we started (its
// PID), so renderer and zygote helpers go with it.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
