package client_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// lockedBuffer collects a process's output for polling.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTerminalPrompts: without --auth-user-pass, cvpn asks for the user
// name, the password (not echoed) and the MFA code on its terminal, as a
// person would type them.
func TestTerminalPrompts(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "script")
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{})
	srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, NoClientCert: true,
		Users: []openvpnpeer.User{{Name: "dave", Password: "typed secret", ChallengeResponse: "765432"}}})
	prof, _ := srv.ClientProfile(openvpnpeer.ProfileOptions{StaticChallenge: "Enter MFA code", StaticChallengeEcho: true})
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	// script gives cvpn a real pseudo-terminal.
	cmd := exec.Command("ip", "netns", "exec", lab.Client, "script", "-qec",
		"env CVPN_HOME="+home+" "+bin+" connect "+pf, "/dev/null")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Normally gone after Ctrl-C; after a failure, end what is left:
		// script puts cvpn in a session of its own, so signal it by name
		// within this namespace.
		exec.Command("ip", "netns", "exec", lab.Client, "pkill", "-TERM", "-f", bin).Run()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitOut := func(s string) {
		t.Helper()
		for !strings.Contains(out.String(), s) {
			select {
			case <-ctx.Done():
				t.Fatalf("no %q on the terminal:\n%s", s, out.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitOut("Username:")
	io.WriteString(stdin, "dave\r")
	waitOut("Password:")
	io.WriteString(stdin, "typed secret\r")
	waitOut("Enter MFA code")
	io.WriteString(stdin, "765432\r")
	waitOut("Connected to")
	if strings.Contains(out.String(), "typed secret") {
		t.Errorf("the password was echoed on the terminal:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "765432") {
		t.Errorf("the MFA code (echo on) was not shown:\n%s", out.String())
	}
	if err := nstest.Ping(ctx, lab.Client, srv.TunnelIP()); err != nil {
		t.Fatalf("ping through the tunnel: %v", err)
	}
	if got := srv.AuthLog(); len(got) != 1 || got[0] != "ok dave" {
		t.Errorf("server verify script: %v", got)
	}
	// Ctrl-C on the terminal disconnects cleanly.
	io.WriteString(stdin, "\x03")
	waitOut("Disconnected.")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("cvpn did not exit after Ctrl-C:\n%s", out.String())
	}
}
