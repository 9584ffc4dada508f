//go:build darwin || windows

package daemon

// The daemon's IPC on the real macOS socket and Windows named pipe
// (TestOS*, opt-in: internal/testkit/osinteg): an unprivileged user reaches
// the daemon, may read the status, and is refused control of a connection
// another user (here root / the elevated Administrator running the test)
// started. The unprivileged side is this test binary run as that user
// (runAsOther, per OS) in helper mode.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/internal/testkit/osinteg"
)

var (
	osHelper = flag.String("cvpn.oshelper", "", "internal: run as the unprivileged IPC client against `SOCKET` and exit")
	osConn   = "osinteg"
)

// Exit codes of the helper.
const (
	helperDenied  = 0  // Disconnect refused with CodeDenied: the expected answer
	helperAllowed = 10 // Disconnect allowed
	helperFailed  = 11 // another error
	helperNoState = 12 // Status failed or did not list the connection
	helperSquat   = 13 // could open another instance of the daemon's pipe (Windows)
)

func TestMain(m *testing.M) {
	flag.Parse()
	if *osHelper != "" {
		os.Exit(ipcHelper(*osHelper))
	}
	os.Exit(m.Run())
}

// ipcHelper dials the daemon, reads the status and tries to disconnect the
// connection it does not own.
func ipcHelper(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, path, ipc.ClientOptions{})
	if err != nil {
		fmt.Println("dial:", err)
		return helperFailed
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil || len(st) != 1 || st[0].Name != osConn {
		fmt.Println("status:", st, err)
		return helperNoState
	}
	_, err = c.Disconnect(ctx, osConn, false)
	switch {
	case err == nil:
		fmt.Println("disconnect allowed")
		return helperAllowed
	case ipc.ErrorCode(err) == ipc.CodeDenied:
		fmt.Println("denied:", err)
		return squatRefused(path)
	}
	fmt.Println("disconnect:", err)
	return helperFailed
}

// copyExe copies this test binary into dir (readable by every user) so
// that another user may run it.
func copyExe(t *testing.T, dir, name string) string {
	t.Helper()
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := dir + string(os.PathSeparator) + name
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestOSDaemonIPCRefusesOtherUser(t *testing.T) {
	osinteg.Require(t, "TestOSDaemonIPCRefusesOtherUser (daemon IPC as an unprivileged user, refused control of another user's connection)")
	fs := newFakeSessions()
	fs.pushed["a.test"] = tunnelCfg("198.51.100.0/24")
	m := newManager(t, fs, Authorizer{})
	dir, path := osSocket(t)
	l, err := ipc.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- (&ipc.Server{Handler: m}).Serve(ctx, l) }()
	defer func() {
		cancel()
		l.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("IPC server did not stop")
		}
	}()

	// The owner: this process (root / elevated Administrator).
	c, err := ipc.Dial(ctx, path, ipc.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx, osConn, []byte(profileText("a.test")), false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fs.upCh(osConn):
	case <-time.After(10 * time.Second):
		t.Fatal("connection did not come up")
	}

	exe := copyExe(t, dir, "daemon-ostest"+exeSuffix)
	code, out := runAsOther(t, dir, exe, "-cvpn.oshelper="+path)
	if code != helperDenied {
		t.Fatalf("unprivileged helper exit code %d (0 denied, 10 allowed, 11 error, 12 no status, 13 pipe instance created), output:\n%s", code, out)
	}
	if out != "" && !strings.Contains(out, "belongs to") {
		t.Errorf("refusal does not say whose connection it is:\n%s", out)
	}
	if st := m.Status(ipc.Peer{}); len(st) != 1 || st[0].Name != osConn {
		t.Fatalf("connection gone after the refused disconnect: %+v", st)
	}
	if _, err := c.Disconnect(ctx, osConn, false); err != nil {
		t.Fatalf("owner's disconnect: %v", err)
	}
}
