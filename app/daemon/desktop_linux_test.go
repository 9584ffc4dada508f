package daemon_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/daemon"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/internal/testkit/login1test"
)

// TestDesktopSessionFromLogind: the daemon answers a front end's
// "am I in the active desktop session?" over its real socket from logind
// (a fake one on a private bus with two sessions on one seat), by the
// process id in the socket's peer credentials: no session, the active
// one, the same session after a switch to the other user, and a remote
// session.
func TestDesktopSessionFromLogind(t *testing.T) {
	bus := login1test.Start(t)
	m, err := daemon.New(daemon.Config{StateDir: t.TempDir(), Desktop: daemon.Logind{Address: bus.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sock := filepath.Join(t.TempDir(), "cvpn.sock")
	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { served <- (&ipc.Server{Handler: m}).Serve(sctx, l) }()
	defer func() { stop(); <-served }()
	cl, err := ipc.Dial(ctx, sock, ipc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ask := func(wantActive bool, wantReason string) {
		t.Helper()
		d, err := cl.DesktopSession(ctx)
		if err != nil || d.Active != wantActive || d.Reason != wantReason {
			t.Errorf("DesktopSession = %+v, %v; want active %v, %q", d, err, wantActive, wantReason)
		}
	}
	pid := os.Getpid()
	ask(false, fmt.Sprintf("process %d is in no login session", pid))
	bus.AddSession("1", true, false, pid) // this user's, at the screen
	bus.AddSession("2", false, false)     // another user's, switched away
	ask(true, "session 1 is active")
	bus.SetActive("1", false) // fast user switch to session 2
	bus.SetActive("2", true)
	ask(false, "session 1 is not the active session of its seat")
	bus.AddSession("3", true, true)
	bus.AddPID("3", pid)
	ask(false, "session 3 is remote")
}

// TestDesktopSessionWithoutLogind: when logind cannot be asked, the
// daemon answers "active" (the app connects, as before the check) and
// says why.
func TestDesktopSessionWithoutLogind(t *testing.T) {
	m, err := daemon.New(daemon.Config{StateDir: t.TempDir(), Desktop: daemon.Logind{Address: "unix:path=" + filepath.Join(t.TempDir(), "no-bus")}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d := m.DesktopSession(context.Background(), ipc.Peer{UID: 1000, PID: os.Getpid()})
	if !d.Active || d.Reason == "" {
		t.Errorf("DesktopSession without a bus = %+v, want active with the reason", d)
	}
}
