package daemon

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const exeSuffix = ""

// osSocket returns a folder every user may enter and the daemon socket in
// it.
func osSocket(t *testing.T) (dir, path string) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "cvpn-ostest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "cvpn.sock")
}

// runAsOther runs exe as the unprivileged user nobody and returns its exit
// code and output.
func runAsOther(t *testing.T, dir, exe string, args ...string) (int, string) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, err1 := strconv.Atoi(u.Uid) // -2 on macOS
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("user nobody: uid %q gid %q", u.Uid, u.Gid)
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("run %s as nobody: %v", exe, err)
	}
	return 0, string(out)
}

// squatRefused: a Unix socket has no second instance to take.
func squatRefused(string) int { return helperDenied }
