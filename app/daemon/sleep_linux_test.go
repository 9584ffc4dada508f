package daemon_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/login1test"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// startDaemonOnBus starts the daemon with bus as its system bus (where
// its sessions' network monitors read logind).
func (e *e2eEnv) startDaemonOnBus(t *testing.T, ns, bus string) *nstest.Proc {
	t.Helper()
	d := nstest.Start(t, ns, "env", "DBUS_SYSTEM_BUS_ADDRESS="+bus, "CVPN_HOME="+e.daemonHome, "CVPN_SOCKET="+e.socket, e.bin, "daemon")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.WaitFor(ctx, "cvpn daemon listening"); err != nil {
		t.Fatalf("daemon did not start: %v", err)
	}
	return d
}

// importAs stores profile file under name in uid's profile store (cvpn
// profile import as that user).
func (e *e2eEnv) importAs(t *testing.T, ns string, uid int, file, name string) {
	t.Helper()
	if out, err := runAs(t, ns, e.asUser(uid, "profile", "import", file, "--name", name)); err != nil {
		t.Fatalf("profile import %s: %v\n%s", name, err, out)
	}
}

// writeSettings writes a stored profile's settings file as the app does
// (app/profilestore Settings), owned by uid.
func (e *e2eEnv) writeSettings(t *testing.T, uid int, name, json string) {
	t.Helper()
	p := filepath.Join(e.dir, fmt.Sprintf("home-%d", uid), "profiles", name+".settings.json")
	if err := os.WriteFile(p, []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the daemon's connection log of name holds substr.
func (e *e2eEnv) waitLog(t *testing.T, name, substr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		logs, _ := filepath.Glob(filepath.Join(e.daemonHome, "state", "logs", name+"-*.log"))
		for _, l := range logs {
			if b, _ := os.ReadFile(l); strings.Contains(string(b), substr) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection log of %s has no %q within %s (logs %v)", name, substr, d, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReconnectAfterResumeSetting: two stored profiles of one user are
// connected through the real daemon; logind (a fake one on a private bus,
// the daemon's system bus) announces a sleep and then the wake-up. The
// profile whose setting "Reconnect after the computer wakes up" is off is
// disconnected at the sleep, its cvpn connect ends saying why, its routes
// and DNS are restored, and it stays down after the wake-up; the one with
// the default setting keeps its tunnel, reports the resume and carries
// traffic after it.
func TestReconnectAfterResumeSetting(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping", "setpriv", "dbus-daemon")
	e := newEnv(t)
	lab := nstest.New(t, nstest.Options{LAN: true, ResolvConf: "nameserver 198.18.0.53\n"})
	before := nstest.MustSnapshot(t, lab.Client)
	bus := login1test.Start(t)

	srvA := startServer(t, lab, 1194, "10.8.0.0/24", []netip.Prefix{nstest.LANPrefix}, []netip.Addr{netip.MustParseAddr("10.8.0.53")})
	srvB := startServer(t, lab, 1195, "10.9.0.0/24", []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}, nil)
	e.importAs(t, lab.Client, uidUser, e.writeProfile(t, "a", profileOf(t, srvA)), "sleeps")
	e.importAs(t, lab.Client, uidUser, e.writeProfile(t, "b", profileOf(t, srvB)), "wakes")
	e.writeSettings(t, uidUser, "sleeps", `{"connect_at_login": false, "reconnect_after_resume": false}`)

	daemon := e.startDaemonOnBus(t, lab.Client, bus.Addr)
	defer daemon.Stop(10 * time.Second)
	// Human output: the reason is printed when the connection ends.
	sleeps := nstest.Start(t, lab.Client, e.asUser(uidUser, "connect", "sleeps")...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := sleeps.WaitFor(ctx, "Connected to "); err != nil {
		t.Fatalf("sleeps did not connect: %v\n%s", err, srvA.Log())
	}
	wakes := nstest.Start(t, lab.Client, e.asUser(uidUser, "connect", "wakes", "--json")...)
	waitConnected(t, wakes, srvB)
	for _, a := range []netip.Addr{srvA.TunnelIP(), srvB.TunnelIP()} {
		if err := nstest.Ping(ctx, lab.Client, a); err != nil {
			t.Fatalf("ping %s: %v", a, err)
		}
	}
	if resolv, _ := os.ReadFile(nstest.ResolvConfPath(lab.Client)); !strings.Contains(string(resolv), "10.8.0.53") {
		t.Fatalf("DNS of sleeps not applied:\n%s", resolv)
	}
	for _, n := range []string{"sleeps", "wakes"} {
		e.waitLog(t, n, "listening for logind PrepareForSleep", 20*time.Second)
	}

	bus.PrepareForSleep(true)
	start := time.Now()
	waitExit(t, sleeps, "exit status 1")
	t.Logf("sleeps disconnected %v after PrepareForSleep(true)", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(sleeps.Output(), "cvpn connect: disconnected because the computer went to sleep") {
		t.Errorf("cvpn connect of sleeps does not say why it ended:\n%s", sleeps.Output())
	}
	if resolv, _ := os.ReadFile(nstest.ResolvConfPath(lab.Client)); strings.Contains(string(resolv), "10.8.0.53") {
		t.Errorf("DNS of sleeps still applied after the sleep:\n%s", resolv)
	}
	bus.PrepareForSleep(false)
	if err := wakes.WaitFor(ctx, `"event":"resumed"`); err != nil {
		t.Fatalf("wakes reported no resume: %v\n%s", err, wakes.Output())
	}
	if err := nstest.Ping(ctx, lab.Client, srvB.TunnelIP()); err != nil {
		t.Fatalf("wakes carries no traffic after the resume: %v\n%s", err, wakes.Output())
	}
	// sleeps stays down after the wake-up: no connection but wakes.
	time.Sleep(2 * time.Second)
	out, err := runAs(t, lab.Client, e.asUser(uidUser, "status"))
	if err != nil || strings.Contains(out, "sleeps") || !strings.Contains(out, "wakes") {
		t.Errorf("status after the wake-up (want wakes only): %v\n%s", err, out)
	}
	if wakes.Exited() {
		t.Fatalf("cvpn connect of wakes ended:\n%s", wakes.Output())
	}
	if out, err := runAs(t, lab.Client, e.asUser(uidUser, "disconnect", "wakes")); err != nil {
		t.Fatalf("disconnect wakes: %v\n%s", err, out)
	}
	waitExit(t, wakes, "exit status 0")
	nstest.AssertUnchanged(t, before)
}
