package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// scriptedRun is a session.Run stand-in: it reports connected (unless the
// profile's remote is auth.test, where it asks for a password first) and
// announces each start on starts; the first session of keepDying ends by
// itself with an error.
type scriptedRun struct {
	calls     atomic.Int32
	starts    chan string
	keepDying string
}

func (s *scriptedRun) run(ctx context.Context, o session.Options) error {
	n := s.calls.Add(1)
	if o.Profile.Remotes[0].Host == "web.test" {
		// ovpn/client on WEB_AUTH: show the page, then wait for the
		// server's decision whatever OpenURL said.
		wa, ok := o.Federation.(clientapi.WebAuth)
		if !ok {
			return errors.New("the session's Federation cannot show a web sign-in page")
		}
		err := wa.OpenURL(ctx, "http://10.8.0.1:8080/signin/x")
		<-ctx.Done()
		s.starts <- o.TunnelID + ":web:" + context.Cause(ctx).Error()
		return err
	}
	if o.Profile.Remotes[0].Host == "auth.test" {
		if _, _, err := o.Credentials.UserPass(ctx, ""); err != nil {
			s.starts <- o.TunnelID + ":asked"
			return err
		}
	}
	o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, Server: o.Profile.Remotes[0].Host})
	s.starts <- o.TunnelID
	if o.TunnelID == s.keepDying && n == 1 {
		return errors.New("the server went away")
	}
	<-ctx.Done()
	return nil
}

func writeSystemProfile(t *testing.T, dir, name, host string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".ovpn"), []byte(profileText(host, "10.77.0.0/16")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func nextStart(t *testing.T, s *scriptedRun) string {
	t.Helper()
	select {
	case n := <-s.starts:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no session started within 5 s")
		return ""
	}
}

func noStart(t *testing.T, s *scriptedRun, why string) {
	t.Helper()
	select {
	case n := <-s.starts:
		t.Fatalf("%s, but %s started", why, n)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestAutoconnectKeepsManagedProfileUp(t *testing.T) {
	dir := t.TempDir()
	writeSystemProfile(t, dir, "corp", "corp.test")
	s := &scriptedRun{starts: make(chan string, 10), keepDying: "corp"}
	authz := Authorizer{AdminGroups: []string{"netops"}, GroupsOf: func(uid int) ([]string, error) {
		if uid == 1001 {
			return []string{"netops"}, nil
		}
		return nil, nil
	}}
	m, err := New(Config{StateDir: t.TempDir(), Run: s.run, Authorizer: authz, SystemProfiles: dir,
		Autoconnect: []string{"corp"}, RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Autoconnect()
	if n := nextStart(t, s); n != "corp" {
		t.Fatalf("started %q, want corp", n)
	}
	// The first session dies: the daemon starts it again by itself.
	if n := nextStart(t, s); n != "corp" {
		t.Fatalf("restarted %q, want corp", n)
	}
	st := m.Status(ipc.Peer{UID: 1000})
	if len(st) != 1 || st[0].Name != "corp" || !st[0].Managed || st[0].OwnerUID != systemPeer().UID || st[0].State != clientapi.StateConnected {
		t.Fatalf("status for a user = %+v; want corp, managed, owned by the system (root, LocalSystem), connected", st)
	}
	// A user may not disconnect it; an admin may, and then it stays down.
	_, err = m.Disconnect(ipc.Peer{UID: 1000}, "corp", false)
	if ipc.ErrorCode(err) != ipc.CodeDenied || !strings.Contains(err.Error(), "managed by the administrator") {
		t.Fatalf("user disconnect of a managed connection: %v", err)
	}
	if names, err := m.Disconnect(ipc.Peer{UID: 1000}, "", true); err == nil && len(names) > 0 {
		t.Fatalf("disconnect --all by a user ended %v", names)
	}
	if _, err := m.Disconnect(ipc.Peer{UID: 1001}, "corp", false); err != nil {
		t.Fatalf("admin disconnect: %v", err)
	}
	noStart(t, s, "an administrator disconnected it")
	if st := m.Status(ipc.Peer{UID: 0}); len(st) != 0 {
		t.Errorf("after the admin's disconnect: %+v", st)
	}
}

func TestAutoconnectNeverWaitsForAUser(t *testing.T) {
	dir := t.TempDir()
	writeSystemProfile(t, dir, "sso", "auth.test")
	writeSystemProfile(t, dir, "corp", "corp.test")
	s := &scriptedRun{starts: make(chan string, 10)}
	m, err := New(Config{StateDir: t.TempDir(), Run: s.run, SystemProfiles: dir, Autoconnect: []string{"sso"},
		RetryMin: 10 * time.Millisecond, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Autoconnect()
	if n := nextStart(t, s); n != "sso:asked" {
		t.Fatalf("got %q, want the password question refused", n)
	}
	noStart(t, s, "a profile that needs a user is left for the app")

	// A user connects a system profile by name: the daemon reads it.
	fe := newFE(1000, nil)
	if err := m.Connect(context.Background(), fe, "corp", "", false); err != nil {
		t.Fatal(err)
	}
	if n := nextStart(t, s); n != "corp" {
		t.Fatalf("started %q, want corp", n)
	}
	err = m.Connect(context.Background(), fe, "nothere", "", false)
	if ipc.ErrorCode(err) != ipc.CodeNotFound || !strings.Contains(err.Error(), `no system profile "nothere"`) {
		t.Errorf("unknown system profile: %v", err)
	}
}

// TestAutoconnectLeavesWebSignInToTheApp: an autoconnect profile whose
// server asks for a web sign-in (WEB_AUTH) is not left waiting for a page
// nobody sees: the daemon opens no browser, ends the session at once with
// the reason, and leaves the profile for the app (no restart).
func TestAutoconnectLeavesWebSignInToTheApp(t *testing.T) {
	dir := t.TempDir()
	writeSystemProfile(t, dir, "web", "web.test")
	s := &scriptedRun{starts: make(chan string, 10)}
	m, err := New(Config{StateDir: t.TempDir(), Run: s.run, SystemProfiles: dir, Autoconnect: []string{"web"},
		RetryMin: 10 * time.Millisecond, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Autoconnect()
	if n := nextStart(t, s); n != "web:web:"+errNeedsUser.Error() {
		t.Fatalf("got %q, want the web sign-in refused and the session ended", n)
	}
	noStart(t, s, "a profile that needs a web sign-in is left for the app")
	deadline := time.Now().Add(5 * time.Second)
	for len(m.Status(ipc.Peer{UID: 0})) != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := m.Status(ipc.Peer{UID: 0}); len(st) != 0 {
		t.Errorf("the connection is still open: %+v", st)
	}
}
