package daemon_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// Unprivileged users of the end-to-end test: nobody, and a uid without a
// passwd entry (setpriv needs none), so no user is created.
const (
	uidUser  = 65534
	uidOther = 65533
)

// e2eEnv is a built cvpn binary in a folder every user can read, a daemon
// state folder and a socket path.
type e2eEnv struct {
	dir, bin, socket, daemonHome string
}

func newEnv(t *testing.T) *e2eEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "cvpn-daemon-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := &e2eEnv{dir: dir, bin: filepath.Join(dir, "cvpn"), socket: filepath.Join(dir, "run", "cvpn.sock"), daemonHome: filepath.Join(dir, "root-home")}
	out, err := exec.Command("go", "build", "-o", e.bin, "github.com/cvpn/cvpn/cmd/cvpn").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, uid := range []int{uidUser, uidOther} {
		h := filepath.Join(dir, fmt.Sprintf("home-%d", uid))
		if err := os.Mkdir(h, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(h, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// writeProfile stores a profile every user can read.
func (e *e2eEnv) writeProfile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(e.dir, name+".ovpn")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// asUser is argv running cvpn as uid in its own home.
func (e *e2eEnv) asUser(uid int, args ...string) []string {
	return append([]string{"setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups",
		"env", "CVPN_SOCKET=" + e.socket, fmt.Sprintf("CVPN_HOME=%s/home-%d", e.dir, uid), fmt.Sprintf("HOME=%s/home-%d", e.dir, uid), e.bin}, args...)
}

func (e *e2eEnv) startDaemon(t *testing.T, ns string) *nstest.Proc {
	t.Helper()
	d := nstest.Start(t, ns, "env", "CVPN_HOME="+e.daemonHome, "CVPN_SOCKET="+e.socket, e.bin, "daemon")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.WaitFor(ctx, "cvpn daemon listening"); err != nil {
		t.Fatalf("daemon did not start: %v", err)
	}
	return d
}

func runAs(t *testing.T, ns string, argv []string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	return nstest.Run(ctx, ns, argv...)
}

func startServer(t *testing.T, lab *nstest.Lab, port int, network string, routes []netip.Prefix, dns []netip.Addr) *openvpnpeer.Server {
	t.Helper()
	return openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{
		NS: lab.Server, Listen: nstest.ServerIP, Port: port, Wrap: openvpnpeer.WrapTLSCrypt,
		Network: netip.MustParsePrefix(network), NoIPv6: true, PushRoutes: routes, PushDNS: dns,
	})
}

func profileOf(t *testing.T, srv *openvpnpeer.Server, extra ...string) string {
	t.Helper()
	p, err := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1", Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitConnected(t *testing.T, p *nstest.Proc, srv *openvpnpeer.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("no connection: %v\nserver log:\n%s", err, srv.Log())
	}
}

func waitExit(t *testing.T, p *nstest.Proc, want string) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(40 * time.Second):
		t.Fatalf("cvpn connect did not exit:\n%s", p.Output())
	}
	if st := p.ExitStatus(); st != want {
		t.Errorf("exit status %q, want %q\n%s", st, want, p.Output())
	}
}

// TestDaemonEndToEnd: an unprivileged user connects through the daemon,
// traffic flows, another user may read status but not disconnect, two
// split tunnels run at once, an overlapping third is refused, and kill -9
// of the daemon followed by a restart leaves nothing behind.
func TestDaemonEndToEnd(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping", "setpriv")
	e := newEnv(t)
	lab := nstest.New(t, nstest.Options{LAN: true, ResolvConf: "nameserver 198.18.0.53\n"})
	before := nstest.MustSnapshot(t, lab.Client)

	srvA := startServer(t, lab, 1194, "10.8.0.0/24", []netip.Prefix{nstest.LANPrefix}, []netip.Addr{netip.MustParseAddr("10.8.0.53")})
	srvB := startServer(t, lab, 1195, "10.9.0.0/24", []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}, nil)
	profA := e.writeProfile(t, "lab-a", profileOf(t, srvA))
	profB := e.writeProfile(t, "lab-b", profileOf(t, srvB))
	profC := e.writeProfile(t, "lab-c", profileOf(t, srvB, "route 198.19.0.0 255.255.255.128"))

	// Without a daemon: a clear message.
	out, err := runAs(t, lab.Client, e.asUser(uidUser, "status"))
	if err == nil || !strings.Contains(out, "the cvpn daemon is not running") || !strings.Contains(out, "cvpn daemon") {
		t.Fatalf("status without a daemon: %v\n%s", err, out)
	}

	daemon := e.startDaemon(t, lab.Client)
	connA := nstest.Start(t, lab.Client, e.asUser(uidUser, "connect", profA, "--json")...)
	waitConnected(t, connA, srvA)
	connB := nstest.Start(t, lab.Client, e.asUser(uidUser, "connect", profB, "--json")...)
	waitConnected(t, connB, srvB)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, a := range []netip.Addr{srvA.TunnelIP(), nstest.LANHostIP, srvB.TunnelIP()} {
		if err := nstest.Ping(ctx, lab.Client, a); err != nil {
			t.Fatalf("ping %s: %v", a, err)
		}
	}
	res, err := nstest.Transfer(ctx, lab.Client, lab.Server, srvA.TunnelIP(), 5<<20)
	if err != nil || !res.OK() {
		t.Fatalf("5 MB upload through lab-a: %v %s", err, res)
	}

	// A third whose routes overlap lab-a's pushed routes is refused.
	out, err = runAs(t, lab.Client, e.asUser(uidUser, "connect", profC))
	if err == nil || !strings.Contains(out, "route 198.19.0.0/25 overlaps route 198.19.0.0/24 of connection lab-a") {
		t.Fatalf("overlapping third connection: %v\n%s", err, out)
	}

	// Status for both users; the other user may not disconnect.
	for _, uid := range []int{uidUser, uidOther} {
		out, err := runAs(t, lab.Client, e.asUser(uid, "status"))
		if err != nil || !strings.Contains(out, "lab-a") || !strings.Contains(out, "lab-b") || !strings.Contains(out, "connected") || !strings.Contains(out, "nobody") {
			t.Fatalf("status as uid %d: %v\n%s", uid, err, out)
		}
	}
	out, err = runAs(t, lab.Client, e.asUser(uidUser, "status", "--json"))
	if err != nil || !strings.Contains(out, `"tunnel_ipv4": "10.8.0.`) || !strings.Contains(out, `"bytes_out": `) || strings.Contains(out, `"bytes_out": 0,`) {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	out, err = runAs(t, lab.Client, e.asUser(uidOther, "disconnect", "lab-a"))
	if err == nil || !strings.Contains(out, "connection lab-a belongs to user nobody (uid 65534); only that user, root or members of the groups sudo, admin, wheel may change it") {
		t.Fatalf("other user's disconnect: %v\n%s", err, out)
	}

	// The owner disconnects lab-b: its cvpn connect exits 0.
	out, err = runAs(t, lab.Client, e.asUser(uidUser, "disconnect", "lab-b"))
	if err != nil || !strings.Contains(out, "Disconnected lab-b.") {
		t.Fatalf("owner's disconnect: %v\n%s", err, out)
	}
	waitExit(t, connB, "exit status 0")
	if !strings.Contains(connB.Output(), `"state":"disconnected"`) {
		t.Errorf("no disconnected event:\n%s", connB.Output())
	}

	// kill -9 of the daemon with lab-a up (its DNS set), then a restart.
	resolv, _ := os.ReadFile(nstest.ResolvConfPath(lab.Client))
	if !strings.Contains(string(resolv), "10.8.0.53") {
		t.Errorf("lab-a's DNS not applied:\n%s", resolv)
	}
	if err := daemon.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-daemon.Done()
	waitExit(t, connA, "exit status 1")
	daemon = e.startDaemon(t, lab.Client)
	if !strings.Contains(daemon.Output(), "cleaning up after a previous daemon") {
		t.Errorf("restart did not clean up:\n%s", daemon.Output())
	}
	nstest.AssertUnchanged(t, before)
	if err := daemon.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := daemon.ExitStatus(); st != "exit status 0" && st != "0" {
		t.Errorf("daemon exit status %q\n%s", st, daemon.Output())
	}
	logs, _ := filepath.Glob(filepath.Join(e.daemonHome, "state", "logs", "lab-a-*.log"))
	if len(logs) != 1 {
		t.Errorf("lab-a logs: %v", logs)
	}
}
