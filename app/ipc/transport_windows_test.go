package ipc

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

func TestDefaultSocketPathWindows(t *testing.T) {
	if DefaultSocketPath != `\\.\pipe\cvpn` {
		t.Fatalf("DefaultSocketPath = %q", DefaultSocketPath)
	}
}

// TestPipeRoundTripIdentity needs an elevated Windows session: the pipe's
// owner is BUILTIN\Administrators, which only an elevated token may set.
func TestPipeRoundTripIdentity(t *testing.T) {
	if !windows.GetCurrentProcessToken().IsElevated() {
		t.Skip("needs an elevated (Administrator) process to own the pipe")
	}
	path := fmt.Sprintf(`\\.\pipe\cvpn-test-%d-%d`, os.Getpid(), time.Now().UnixNano())
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Fatalf("second Listen: %v, want already listening", err)
	}
	type res struct {
		p   Peer
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, p, err := l.Accept()
		if err == nil {
			c.Write([]byte("hi\n"))
			c.Close()
		}
		ch <- res{p, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 3)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(buf); err != nil || string(buf) != "hi\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	var r res
	select {
	case r = <-ch:
	case <-ctx.Done():
		t.Fatal("Accept did not return")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	if r.p.SID != u.User.Sid.String() || r.p.PID != os.Getpid() || r.p.UID != -1 || !r.p.Admin {
		t.Fatalf("peer %+v, want SID %s pid %d admin", r.p, u.User.Sid, os.Getpid())
	}
}

func TestDialMissingPipeIsNotRunning(t *testing.T) {
	path := fmt.Sprintf(`\\.\pipe\cvpn-missing-%d-%d`, os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := dial(ctx, path); !IsNotRunning(err) {
		t.Fatalf("dial %s: %v, want NotRunningError", path, err)
	}
}
