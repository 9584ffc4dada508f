package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/platform"
)

// fakeFE is a front end without a socket.
type fakeFE struct {
	peer  ipc.Peer
	creds clientapi.Credentials
	done  chan struct{}

	mu     sync.Mutex
	events []string
	ended  chan ipc.Result
}

func newFE(uid int, creds clientapi.Credentials) *fakeFE {
	return &fakeFE{peer: ipc.Peer{UID: uid, GID: uid, PID: 100 + uid}, creds: creds, done: make(chan struct{}), ended: make(chan ipc.Result, 1)}
}

func (f *fakeFE) Peer() ipc.Peer                           { return f.peer }
func (f *fakeFE) Credentials(string) clientapi.Credentials { return f.creds }
func (f *fakeFE) Done() <-chan struct{}                    { return f.done }
func (f *fakeFE) Ended(name string, r ipc.Result)          { f.ended <- r }
func (f *fakeFE) Event(name string, ev clientapi.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := name + ":" + ev.Event + ":" + string(ev.State)
	if ev.Message != "" {
		s += ":" + ev.Message
	}
	f.events = append(f.events, s)
}

func (f *fakeFE) eventLog() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.events, "\n")
}

func (f *fakeFE) waitEnded(t *testing.T) ipc.Result {
	t.Helper()
	select {
	case r := <-f.ended:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("connection did not end; events:\n%s", f.eventLog())
		return ipc.Result{}
	}
}

// fakeSessions is a session.Run stand-in: it asks for credentials when the
// profile's first remote is "auth.test", "configures" a tunnel with the
// pushed routes of the remote's host, then waits for cancellation.
type fakeSessions struct {
	mu     sync.Mutex
	pushed map[string]platform.TunnelConfig // by remote host
	opts   map[string]session.Options       // by tunnel id
	up     map[string]chan struct{}
}

func newFakeSessions() *fakeSessions {
	return &fakeSessions{pushed: map[string]platform.TunnelConfig{}, opts: map[string]session.Options{}, up: map[string]chan struct{}{}}
}

func (f *fakeSessions) upCh(id string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.up[id] == nil {
		f.up[id] = make(chan struct{})
	}
	return f.up[id]
}

func (f *fakeSessions) run(ctx context.Context, o session.Options) error {
	f.mu.Lock()
	f.opts[o.TunnelID] = o
	host := o.Profile.Remotes[0].Host
	cfg := f.pushed[host]
	f.mu.Unlock()
	o.Logger.Info("starting", "password", "hunter2")
	o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnecting, Server: host})
	if host == "auth.test" {
		u, p, err := o.Credentials.UserPass(ctx, "")
		if err != nil {
			return err
		}
		if u != "alice" || p != "right" {
			return fmt.Errorf("%w: wrong password", clientapi.ErrAuthFailed)
		}
	}
	if host == "saml.test" {
		if o.Federation == nil {
			return fmt.Errorf("%w: no federation for a federated profile", clientapi.ErrAuthFailed)
		}
		if o.Federation.ACSPort() != 35001 {
			return fmt.Errorf("ACS port %d", o.Federation.ACSPort())
		}
		resp, err := o.Federation.SignIn(ctx, "https://idp.test/sso?SAMLRequest=abc")
		if err != nil {
			return err
		}
		if resp != "PHNhbWxwOlJlc3BvbnNlLz4=" {
			return fmt.Errorf("%w: wrong SAML response %q", clientapi.ErrAuthFailed, resp)
		}
	}
	if o.OnTunnelUp != nil {
		o.OnTunnelUp(client.TunnelInfo{Interface: "cvpn0", Config: cfg})
	}
	if ctx.Err() == nil {
		o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, TunnelIPv4: "10.8.0.2", Interface: "cvpn0", Server: host})
	}
	f.mu.Lock()
	if ch := f.up[o.TunnelID]; ch != nil {
		select {
		case <-ch: // up before, in an earlier test manager
		default:
			close(ch)
		}
	} else {
		ch = make(chan struct{})
		close(ch)
		f.up[o.TunnelID] = ch
	}
	f.mu.Unlock()
	<-ctx.Done()
	o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
	return nil
}

func newManager(t *testing.T, fs *fakeSessions, authz Authorizer) *Manager {
	t.Helper()
	m, err := New(Config{StateDir: t.TempDir(), Run: fs.run, Authorizer: authz, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func profileText(host string, routes ...string) string {
	s := "client\ndev tun\nproto udp\nremote " + host + " 1194\nauth-user-pass\n<ca>\n" + testCA() + "</ca>\n"
	for _, r := range routes {
		p := netip.MustParsePrefix(r)
		s += fmt.Sprintf("route %s %s\n", p.Addr(), maskOf(p))
	}
	return s
}

// testCA is the CA certificate of a good test profile.
var testCA = sync.OnceValue(func() string {
	data, err := os.ReadFile(filepath.Join(fixtures.Profiles(), "good", "aws-ad.ovpn"))
	if err != nil {
		panic(err)
	}
	s := string(data)
	i, j := strings.Index(s, "<ca>\n"), strings.Index(s, "</ca>")
	return s[i+len("<ca>\n") : j]
})

func maskOf(p netip.Prefix) string {
	m := uint32(0xffffffff) << (32 - p.Bits())
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

func connectWait(t *testing.T, m *Manager, fs *fakeSessions, fe *fakeFE, name, text string) {
	t.Helper()
	if err := m.Connect(context.Background(), fe, name, text, false); err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	select {
	case <-fs.upCh(name):
	case r := <-fe.ended:
		t.Fatalf("%s ended: %+v", name, r)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not come up", name)
	}
}

func tunnelCfg(routes ...string) platform.TunnelConfig {
	var c platform.TunnelConfig
	for _, r := range routes {
		c.Routes = append(c.Routes, platform.TunnelRoute{Dst: netip.MustParsePrefix(r)})
	}
	return c
}

func TestAuthorizer(t *testing.T) {
	a := Authorizer{AdminGroups: []string{"wheel"}, GroupsOf: func(uid int) ([]string, error) {
		switch uid {
		case 1002:
			return []string{"users", "wheel"}, nil
		case 1003:
			return nil, errors.New("no such user")
		}
		return []string{"users"}, nil
	}}
	owner := ipc.Peer{UID: 1000}
	cases := []struct {
		uid int
		ok  bool
	}{{1000, true}, {0, true}, {1002, true}, {1001, false}, {1003, false}, {65534, false}}
	for _, c := range cases {
		err := a.MayControl(ipc.Peer{UID: c.uid}, owner, "work")
		if (err == nil) != c.ok {
			t.Errorf("uid %d: %v, want allowed=%v", c.uid, err, c.ok)
		}
		if err != nil && (ipc.ErrorCode(err) != ipc.CodeDenied || !strings.Contains(err.Error(), "connection work belongs to") || !strings.Contains(err.Error(), "wheel")) {
			t.Errorf("uid %d: error %q", c.uid, err)
		}
	}
	if err := (Authorizer{}).MayControl(ipc.Peer{SID: "S-1-5-21-1"}, ipc.Peer{SID: "S-1-5-21-1"}, "w"); err != nil {
		t.Errorf("same SID: %v", err)
	}
}

func TestConnectStatusDisconnect(t *testing.T) {
	fs := newFakeSessions()
	fs.pushed["a.test"] = tunnelCfg("172.31.0.0/16")
	m := newManager(t, fs, Authorizer{AdminGroups: []string{}})
	owner, other := newFE(1000, nil), newFE(1001, nil)
	connectWait(t, m, fs, owner, "work", profileText("a.test"))
	st := m.Status(other.peer)
	if len(st) != 1 || st[0].Name != "work" || st[0].OwnerUID != 1000 || st[0].State != clientapi.StateConnected ||
		st[0].TunnelIPv4 != "10.8.0.2" || st[0].Interface != "cvpn0" || st[0].ConnectedAt.IsZero() ||
		strings.Join(st[0].Routes, ",") != "172.31.0.0/16" || !st[0].DNS {
		t.Fatalf("status %+v", st)
	}
	_, err := m.Disconnect(other.peer, "work", false)
	if ipc.ErrorCode(err) != ipc.CodeDenied {
		t.Fatalf("other user's disconnect: %v", err)
	}
	if names, err := m.Disconnect(other.peer, "", true); ipc.ErrorCode(err) != ipc.CodeDenied || len(names) != 0 {
		t.Fatalf("other user's disconnect --all: %v %v", names, err)
	}
	if _, err := m.Disconnect(owner.peer, "home", false); ipc.ErrorCode(err) != ipc.CodeNotFound {
		t.Fatalf("unknown name: %v", err)
	}
	names, err := m.Disconnect(owner.peer, "work", false)
	if err != nil || len(names) != 1 {
		t.Fatalf("owner's disconnect: %v %v", names, err)
	}
	r := owner.waitEnded(t)
	if !r.Requested || r.AuthFailed {
		t.Errorf("result %+v", r)
	}
	if len(m.Status(owner.peer)) != 0 {
		t.Error("connection still listed")
	}
	if !strings.Contains(owner.eventLog(), "work:state:disconnected") {
		t.Errorf("events:\n%s", owner.eventLog())
	}
	// Its state folder is gone, its log stays with the secret redacted.
	if _, err := os.Stat(filepath.Join(m.sessionsDir(), "work")); !os.IsNotExist(err) {
		t.Errorf("state folder left: %v", err)
	}
	logs, _ := filepath.Glob(filepath.Join(m.logsDir(), "work-*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
	data, _ := os.ReadFile(logs[0])
	if strings.Contains(string(data), "hunter2") || !strings.Contains(string(data), "password=[redacted]") || !strings.Contains(string(data), "connection ended") {
		t.Errorf("log:\n%s", data)
	}
}

func TestRootDisconnectsAll(t *testing.T) {
	fs := newFakeSessions()
	fs.pushed["a.test"] = tunnelCfg("172.31.0.0/16")
	fs.pushed["b.test"] = tunnelCfg("172.30.0.0/16")
	m := newManager(t, fs, Authorizer{})
	a, b := newFE(1000, nil), newFE(1001, nil)
	connectWait(t, m, fs, a, "a", profileText("a.test"))
	connectWait(t, m, fs, b, "b", profileText("b.test"))
	names, err := m.Disconnect(ipc.Peer{UID: 0}, "", true)
	if err != nil || strings.Join(names, ",") != "a,b" {
		t.Fatalf("root disconnect --all: %v %v", names, err)
	}
	a.waitEnded(t)
	b.waitEnded(t)
}

func TestOverlapRefusedBeforeConnecting(t *testing.T) {
	fs := newFakeSessions()
	fs.pushed["a.test"] = tunnelCfg("10.20.0.0/16")
	m := newManager(t, fs, Authorizer{})
	fe := newFE(1000, nil)
	connectWait(t, m, fs, fe, "a", profileText("a.test", "10.20.0.0/16"))
	err := m.Connect(context.Background(), newFE(1000, nil), "b", profileText("b.test", "10.20.5.0/24"), false)
	if ipc.ErrorCode(err) != ipc.CodeRefused || !strings.Contains(err.Error(), "route 10.20.5.0/24 overlaps route 10.20.0.0/16 of connection a") {
		t.Fatalf("overlapping connect: %v", err)
	}
	err = m.Connect(context.Background(), newFE(1000, nil), "c", profileText("10.20.1.1"), false)
	if ipc.ErrorCode(err) != ipc.CodeRefused || !strings.Contains(err.Error(), "server 10.20.1.1 is inside route 10.20.0.0/16 of connection a") {
		t.Fatalf("server inside a route: %v", err)
	}
	err = m.Connect(context.Background(), newFE(1000, nil), "a", profileText("d.test"), false)
	if ipc.ErrorCode(err) != ipc.CodeRefused || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("same name: %v", err)
	}
	if err := m.Connect(context.Background(), newFE(1000, nil), "bad", "client\nremote x 1\n<ca>\n/etc/ca.pem\n</ca>\nca /etc/ca.pem\n", false); ipc.ErrorCode(err) != ipc.CodeProfile {
		t.Fatalf("bad profile: %v", err)
	}
}

func TestPushedOverlapTornDown(t *testing.T) {
	fs := newFakeSessions()
	fs.pushed["a.test"] = tunnelCfg("10.20.0.0/16")
	fs.pushed["b.test"] = tunnelCfg("10.20.7.0/24")
	m := newManager(t, fs, Authorizer{})
	connectWait(t, m, fs, newFE(1000, nil), "a", profileText("a.test"))
	fe := newFE(1000, nil)
	if err := m.Connect(context.Background(), fe, "b", profileText("b.test"), false); err != nil {
		t.Fatal(err)
	}
	r := fe.waitEnded(t)
	if r.Requested || !strings.Contains(r.Reason, "route 10.20.7.0/24 overlaps route 10.20.0.0/16 of connection a") {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(fe.eventLog(), "b:error::disconnected b: the server pushed routes") {
		t.Errorf("no error event:\n%s", fe.eventLog())
	}
	if strings.Contains(fe.eventLog(), "state:connected") {
		t.Errorf("connected reported:\n%s", fe.eventLog())
	}
}

func TestFullTunnelExcludesOthers(t *testing.T) {
	fs := newFakeSessions()
	full := tunnelCfg()
	full.RedirectIPv4 = true
	fs.pushed["full.test"] = full
	fs.pushed["a.test"] = tunnelCfg("10.1.0.0/16")
	m := newManager(t, fs, Authorizer{})
	connectWait(t, m, fs, newFE(1000, nil), "full", profileText("full.test"))
	err := m.Connect(context.Background(), newFE(1000, nil), "a", profileText("a.test"), false)
	if ipc.ErrorCode(err) != ipc.CodeRefused || !strings.Contains(err.Error(), "connection full is a full-tunnel session") {
		t.Fatalf("connect next to a full tunnel: %v", err)
	}
	// The other way round: a full tunnel pushed while another is up.
	m2 := newManager(t, fs, Authorizer{})
	connectWait(t, m2, fs, newFE(1000, nil), "a", profileText("a.test"))
	fe := newFE(1000, nil)
	if err := m2.Connect(context.Background(), fe, "full", profileText("full.test"), false); err != nil {
		t.Fatal(err)
	}
	if r := fe.waitEnded(t); !strings.Contains(r.Reason, "this is a full-tunnel session") {
		t.Fatalf("result %+v", r)
	}
}

func TestLimitAndDNSOwner(t *testing.T) {
	fs := newFakeSessions()
	m := newManager(t, fs, Authorizer{})
	for i := range DefaultMaxConnections {
		host := fmt.Sprintf("s%d.test", i)
		fs.pushed[host] = tunnelCfg(fmt.Sprintf("10.%d.0.0/16", i))
		connectWait(t, m, fs, newFE(1000, nil), fmt.Sprintf("c%d", i), profileText(host))
	}
	err := m.Connect(context.Background(), newFE(1000, nil), "c9", profileText("s9.test"), false)
	if ipc.ErrorCode(err) != ipc.CodeRefused || !strings.Contains(err.Error(), "5 connections are open") {
		t.Fatalf("sixth connection: %v", err)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := range DefaultMaxConnections {
		o := fs.opts[fmt.Sprintf("c%d", i)]
		if o.NoDNS != (i > 0) {
			t.Errorf("c%d: NoDNS=%v", i, o.NoDNS)
		}
		if want := filepath.Join(m.sessionsDir(), fmt.Sprintf("c%d", i)); o.StateDir != want {
			t.Errorf("c%d: state dir %s, want %s", i, o.StateDir, want)
		}
	}
}

type pw struct{ user, pass string }

func (p pw) UserPass(context.Context, string) (string, string, error) { return p.user, p.pass, nil }
func (p pw) Challenge(context.Context, string, bool) (string, error)  { return "", nil }

func TestAuthFailureResult(t *testing.T) {
	fs := newFakeSessions()
	m := newManager(t, fs, Authorizer{})
	fe := newFE(1000, pw{"alice", "wrong"})
	if err := m.Connect(context.Background(), fe, "auth", profileText("auth.test"), false); err != nil {
		t.Fatal(err)
	}
	if r := fe.waitEnded(t); !r.AuthFailed || r.Requested {
		t.Fatalf("result %+v", r)
	}
	fe = newFE(1000, pw{"alice", "right"})
	connectWait(t, m, fs, fe, "auth", profileText("auth.test"))
}

func TestBindDisconnectsWhenFrontEndGoes(t *testing.T) {
	fs := newFakeSessions()
	m := newManager(t, fs, Authorizer{})
	fe := newFE(1000, nil)
	if err := m.Connect(context.Background(), fe, "work", profileText("a.test"), true); err != nil {
		t.Fatal(err)
	}
	<-fs.upCh("work")
	close(fe.done)
	if r := fe.waitEnded(t); !r.Requested {
		t.Fatalf("result %+v", r)
	}
}

func TestRotateLogs(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	write := func(name string, size int, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("a-2026-10-01.log", 10, 31*24*time.Hour)
	big1 := write("b-2026-11-18.log", 60, 48*time.Hour)
	big2 := write("c-2026-11-19.log", 50, 24*time.Hour)
	keep := write("d-2026-11-20.log", 30, time.Hour)
	other := write("notes.txt", 10, 40*24*time.Hour)
	removed, err := rotateLogs(dir, now, 30*24*time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(removed, ",") != old+","+big1 {
		t.Errorf("removed %v", removed)
	}
	for _, p := range []string{big2, keep, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestRecoverRemovesEmptySessionFolders(t *testing.T) {
	fs := newFakeSessions()
	m := newManager(t, fs, Authorizer{})
	dir := filepath.Join(m.sessionsDir(), "crashed")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("session folder left: %v", err)
	}
}

func TestConflictUnits(t *testing.T) {
	p := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	a := plan{Routes: p("10.0.0.0/24", "fd00:1::/64"), Servers: []netip.Addr{netip.MustParseAddr("198.18.0.2")}}
	cases := []struct {
		b    plan
		want string
	}{
		{plan{Routes: p("10.0.1.0/24", "fd00:2::/64"), Servers: []netip.Addr{netip.MustParseAddr("198.18.0.2")}}, ""},
		{plan{Routes: p("fd00::/16")}, "route fd00:1::/64 overlaps route fd00::/16 of connection x"},
		{plan{Routes: p("198.18.0.0/24")}, "server 198.18.0.2 is inside route 198.18.0.0/24 of connection x"},
		{plan{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.9")}}, "route 10.0.0.0/24 covers server 10.0.0.9 of connection x"},
		{plan{FullTunnel: true}, "connection x is a full-tunnel session"},
	}
	for _, c := range cases {
		err := conflict(a, "x", c.b)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("conflict with %+v = %q, want %q", c.b, got, c.want)
		}
	}
}

// samlCreds are front-end credentials that can also run a sign-in.
type samlCreds struct {
	pw
	urls chan string
}

func (s samlCreds) SignIn(_ context.Context, url string) (string, error) {
	s.urls <- url
	return "PHNhbWxwOlJlc3BvbnNlLz4=", nil
}

func (s samlCreds) ACSPort() int { return 35001 }

// TestFederatedSignInThroughFrontEnd: a daemon session of a federated
// profile gets its clientapi.Federation from the owning front end.
func TestFederatedSignInThroughFrontEnd(t *testing.T) {
	fs := newFakeSessions()
	m := newManager(t, fs, Authorizer{})
	// Without a front end that can sign in, the session has no federation.
	fe := newFE(1000, pw{"alice", "right"})
	if err := m.Connect(context.Background(), fe, "fed", profileText("saml.test"), false); err != nil {
		t.Fatal(err)
	}
	if r := fe.waitEnded(t); !r.AuthFailed || !strings.Contains(r.Reason, "no federation") {
		t.Fatalf("result %+v", r)
	}
	urls := make(chan string, 1)
	fe = newFE(1000, samlCreds{pw{"alice", "right"}, urls})
	connectWait(t, m, fs, fe, "fed", profileText("saml.test"))
	if u := <-urls; u != "https://idp.test/sso?SAMLRequest=abc" {
		t.Errorf("front end asked to open %q", u)
	}
}

// TestCleanStopLeavesNoSessionState: a session that ends cleanly leaves
// its lock file behind (app/session keeps it); the daemon removes the
// folder anyway, so the next daemon has nothing to clean up and does not
// say it does. A folder with real state is still recovered and reported.
func TestCleanStopLeavesNoSessionState(t *testing.T) {
	fs := newFakeSessions()
	dir := t.TempDir()
	run := func(ctx context.Context, o session.Options) error {
		if err := os.WriteFile(filepath.Join(o.StateDir, "routes-"+o.TunnelID+".lock"), nil, 0o600); err != nil {
			return err
		}
		return fs.run(ctx, o)
	}
	m, err := New(Config{StateDir: dir, Run: run, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fe := newFE(1000, nil)
	connectWait(t, m, fs, fe, "work", profileText("a.test"))
	m.Close() // the daemon stops: every session ends cleanly
	fe.waitEnded(t)
	if _, err := os.Stat(filepath.Join(dir, "sessions", "work")); !os.IsNotExist(err) {
		t.Fatalf("session folder left after a clean stop: %v", err)
	}

	// A stale lock file alone (an older daemon) is removed silently; a
	// folder with other files is reported as a cleanup.
	for _, f := range []string{"old/routes-old.lock", "crashed/routes-crashed.lock", "crashed/notes.txt"} {
		p := filepath.Join(dir, "sessions", f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	m2, err := New(Config{StateDir: dir, Run: run, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Recover(); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "cleaning up after a previous daemon") != 1 || !strings.Contains(out.String(), "session=crashed") {
		t.Errorf("recover log:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions", "old")); !os.IsNotExist(err) {
		t.Errorf("folder with a stale lock file left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions", "crashed", "notes.txt")); err != nil {
		t.Errorf("unknown file removed: %v", err)
	}
}
