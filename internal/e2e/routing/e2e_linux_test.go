package routing

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// cvpnBinary builds cmd/cvpn once per test run.
func cvpnBinary(t *testing.T) string {
	return nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn")
}

// The client's gateway on its veth link is the server's link address.
var (
	gw  = nstest.ServerIP
	gw6 = nstest.ServerIP6
)

const echoEnforce = "echo cvpn-route-enforcement on"

// setup is a lab with an OpenVPN server and a cvpn profile for it.
type setup struct {
	lab  *nstest.Lab
	srv  *openvpnpeer.Server
	home string
	prof string
}

func newSetup(t *testing.T, sc openvpnpeer.ServerConfig, extra ...string) *setup {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	lab := nstest.New(t, nstest.Options{LAN: true, ClientDefaultRoute: true, ResolvConf: "nameserver 198.18.0.53\n"})
	sc.NS = lab.Server
	sc.Listen = nstest.ServerIP
	srv := openvpnpeer.StartServer(t, sc)
	p, err := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1", Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(p), 0o600); err != nil {
		t.Fatal(err)
	}
	return &setup{lab: lab, srv: srv, home: home, prof: pf}
}

// connect starts `cvpn connect --json` in the client namespace and waits
// until it is connected.
func (s *setup) connect(t *testing.T, args ...string) *nstest.Proc {
	t.Helper()
	argv := append([]string{"env", "CVPN_HOME=" + s.home, cvpnBinary(t), "connect", s.prof, "--json"}, args...)
	cl := nstest.Start(t, s.lab.Client, argv...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("cvpn did not connect: %v\nserver log:\n%s", err, s.srv.Log())
	}
	return cl
}

// disconnect sends SIGTERM and waits for a clean exit.
func disconnect(t *testing.T, cl *nstest.Proc) {
	t.Helper()
	if err := cl.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("cvpn did not exit after SIGTERM:\n%s", cl.Output())
	}
	if st := cl.ExitStatus(); st != "exit status 0" && st != "0" {
		t.Errorf("exit status after a requested disconnect = %q, want 0\n%s", st, cl.Output())
	}
}

// ipRoute runs `ip [-6] route ARGS...` in the client namespace; the family
// follows the destination (first argument after the verb).
func (s *setup) ipRoute(t *testing.T, verb, dst string, rest ...string) {
	t.Helper()
	nstest.MustRun(t, s.lab.Client, append([]string{"ip", famFlag(dst), "route", verb, dst}, rest...)...)
}

func famFlag(dst string) string {
	if strings.Contains(dst, ":") {
		return "-6"
	}
	return "-4"
}

// routeLines is `ip -d route show exact DST` in the main table of the
// client namespace.
func (s *setup) routeLines(t *testing.T, dst string) string {
	t.Helper()
	return strings.TrimSpace(nstest.MustRun(t, s.lab.Client, "ip", "-d", famFlag(dst), "route", "show", "exact", dst))
}

// onLAN reports whether the client has a route to exactly dst that does not
// go through the tunnel.
func (s *setup) onLAN(t *testing.T, dst string) bool {
	t.Helper()
	for _, l := range strings.Split(s.routeLines(t, dst), "\n") {
		if strings.Contains(l, "dev "+nstest.ClientDev+" ") || strings.HasSuffix(l, "dev "+nstest.ClientDev) {
			return true
		}
	}
	return false
}

// waitLAN waits (bounded) until onLAN(dst) == want.
func (s *setup) waitLAN(t *testing.T, dst string, want bool, out func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.onLAN(t, dst) != want {
		if time.Now().After(deadline) {
			t.Fatalf("route %s on the LAN = %v after 10s, want %v\n%s\ncvpn output:\n%s", dst, !want, want, s.routeLines(t, dst), out())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allRoutes is `ip -d route show` and `ip -d -6 route show` (main table).
func (s *setup) allRoutes(t *testing.T) string {
	t.Helper()
	return nstest.MustRun(t, s.lab.Client, "ip", "-d", "-4", "route", "show") + "--\n" +
		nstest.MustRun(t, s.lab.Client, "ip", "-d", "-6", "route", "show")
}

func TestSplitTunnelEnforcement(t *testing.T) {
	s := newSetup(t, openvpnpeer.ServerConfig{
		PushRoutes: []netip.Prefix{
			netip.MustParsePrefix("172.31.0.0/16"),
			netip.MustParsePrefix("10.20.0.0/16"),
			netip.MustParsePrefix("fd31::/32"),
		},
		Push: []string{echoEnforce},
	}, "route 172.31.200.0 255.255.255.0 net_gateway", "route-ipv6 fd31:0:200::/48 net_gateway")

	// Conflicts that exist before connecting, with unusual attributes so
	// that the byte-for-byte comparison means something.
	s.ipRoute(t, "add", "172.31.1.0/24", "via", gw.String(), "proto", "static", "metric", "50", "src", nstest.ClientIP.String())
	s.ipRoute(t, "add", "fd31:0:1::/48", "via", gw6.String(), "metric", "77", "mtu", "1400")
	// Not conflicts: less specific than a VPN route, inside net_gateway
	// exemptions.
	s.ipRoute(t, "add", "10.0.0.0/8", "via", gw.String())
	s.ipRoute(t, "add", "172.31.200.128/25", "via", gw.String())
	s.ipRoute(t, "add", "fd31:0:200:1::/64", "via", gw6.String())
	s.ipRoute(t, "add", "fd31:1::/48", "via", gw6.String()) // outside fd31::/32
	before := nstest.MustSnapshot(t, s.lab.Client)
	beforeRoutes := s.allRoutes(t)

	cl := s.connect(t, "--verbose")
	out := cl.Output
	for _, dst := range []string{"172.31.1.0/24", "fd31:0:1::/48"} {
		if s.onLAN(t, dst) {
			t.Errorf("conflict %s present before connecting was not removed:\n%s", dst, s.routeLines(t, dst))
		}
	}
	for _, dst := range []string{"10.0.0.0/8", "172.31.200.128/25", "fd31:0:200:1::/64", "172.31.200.0/24", "fd31:0:200::/48", "fd31:1::/48"} {
		if !s.onLAN(t, dst) {
			t.Errorf("route %s does not conflict but is gone", dst)
		}
	}
	// The tunnel works.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, s.lab.Client, s.srv.TunnelIP()); err != nil {
		t.Fatalf("ping through the tunnel: %v", err)
	}

	// Conflicts appearing while connected disappear, IPv4 and IPv6; one
	// re-added after removal (DHCP) disappears again.
	s.ipRoute(t, "add", "172.31.7.0/24", "via", gw.String())
	s.ipRoute(t, "add", "fd31:0:7::/48", "via", gw6.String())
	s.ipRoute(t, "add", "172.31.1.0/24", "via", gw.String(), "proto", "static", "metric", "50", "src", nstest.ClientIP.String())
	for _, dst := range []string{"172.31.7.0/24", "fd31:0:7::/48", "172.31.1.0/24"} {
		s.waitLAN(t, dst, false, out)
	}
	// Routes outside the VPN added now stay.
	s.ipRoute(t, "add", "172.30.9.0/24", "via", gw.String())
	time.Sleep(100 * time.Millisecond)
	if !s.onLAN(t, "172.30.9.0/24") {
		t.Error("route 172.30.9.0/24 outside the VPN was removed")
	}
	s.ipRoute(t, "del", "172.30.9.0/24")

	for _, want := range []string{
		`"event":"route-enforced","action":"removed","route":"172.31.1.0/24 via 198.18.0.2 dev eth0`,
		`"event":"route-enforced","action":"removed","route":"fd31:0:1::/48 via fd18::2 dev eth0`,
		`"event":"route-enforced","action":"removed","route":"172.31.7.0/24 via 198.18.0.2 dev eth0`,
		`"event":"route-enforced","action":"removed","route":"fd31:0:7::/48 via fd18::2 dev eth0`,
	} {
		if !strings.Contains(out(), want) {
			t.Errorf("no event %s in the --json output:\n%s", want, out())
		}
	}

	disconnect(t, cl)
	for _, want := range []string{
		`"event":"route-enforced","action":"restored","route":"172.31.1.0/24 via 198.18.0.2 dev eth0`,
		`"event":"route-enforced","action":"restored","route":"fd31:0:1::/48 via fd18::2 dev eth0`,
	} {
		if !strings.Contains(out(), want) {
			t.Errorf("no event %s in the --json output:\n%s", want, out())
		}
	}
	// The routes added while connected were restored too; take them away
	// (deleting fails if they are missing), then the table is as before.
	s.ipRoute(t, "del", "172.31.7.0/24", "via", gw.String())
	s.ipRoute(t, "del", "fd31:0:7::/48", "via", gw6.String())
	if after := s.allRoutes(t); after != beforeRoutes {
		t.Errorf("ip -d route show differs after disconnect:\nbefore:\n%s\nafter:\n%s", beforeRoutes, after)
	}
	nstest.AssertUnchanged(t, before)
}

func TestKill9RestoresRemovedRoutes(t *testing.T) {
	s := newSetup(t, openvpnpeer.ServerConfig{
		PushRoutes: []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16"), netip.MustParsePrefix("fd31::/32")},
		Push:       []string{echoEnforce},
	})
	s.ipRoute(t, "add", "172.31.1.0/24", "via", gw.String(), "proto", "dhcp", "metric", "600")
	s.ipRoute(t, "add", "fd31:0:1::/48", "via", gw6.String(), "metric", "1024")
	before := nstest.MustSnapshot(t, s.lab.Client)
	beforeRoutes := s.allRoutes(t)

	cl := s.connect(t)
	if s.onLAN(t, "172.31.1.0/24") || s.onLAN(t, "fd31:0:1::/48") {
		t.Fatalf("conflicts not removed:\n%s", s.allRoutes(t))
	}
	if err := cl.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("cvpn did not die from SIGKILL")
	}
	if s.onLAN(t, "172.31.1.0/24") {
		t.Fatal("route back although nobody restored it (was it ever removed?)")
	}
	// Any cvpn start restores it before doing anything else. The server is
	// gone, so this run only recovers and then keeps trying to connect.
	if err := s.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	argv := []string{"env", "CVPN_HOME=" + s.home, cvpnBinary(t), "connect", s.prof, "--json"}
	again := nstest.Start(t, s.lab.Client, argv...)
	s.waitLAN(t, "172.31.1.0/24", true, again.Output)
	s.waitLAN(t, "fd31:0:1::/48", true, again.Output)
	if err := again.Stop(10 * time.Second); err != nil {
		t.Logf("second run: %v", err)
	}
	if after := s.allRoutes(t); after != beforeRoutes {
		t.Errorf("ip -d route show differs after recovery:\nbefore:\n%s\nafter:\n%s", beforeRoutes, after)
	}
	// The killed run's TUN device, routes and DNS are undone as well.
	nstest.AssertUnchanged(t, before)
}

func TestFullTunnelEnforcement(t *testing.T) {
	s := newSetup(t, openvpnpeer.ServerConfig{
		Push: []string{"redirect-gateway def1 ipv6", echoEnforce},
	})
	s.ipRoute(t, "add", "10.1.0.0/16", "via", gw.String())
	s.ipRoute(t, "add", "169.254.0.0/16", "dev", nstest.ClientDev, "scope", "link") // ignored network
	before := nstest.MustSnapshot(t, s.lab.Client)
	beforeRoutes := s.allRoutes(t)

	cl := s.connect(t)
	// The LAN's routes inside 0/1, 128/1 and fc00::/7 are gone by design.
	for _, dst := range []string{nstest.LinkPrefix.String(), "10.1.0.0/16", nstest.LinkPrefix6.String()} {
		if s.onLAN(t, dst) {
			t.Errorf("LAN route %s still there in full tunnel with enforcement:\n%s", dst, s.allRoutes(t))
		}
	}
	// The default routes (less specific), the ignored network and the host
	// route to the server stay.
	for _, dst := range []string{"default", "169.254.0.0/16", nstest.ServerIP.String() + "/32"} {
		if !s.onLAN(t, dst) {
			t.Errorf("route %s removed in full tunnel:\n%s", dst, s.allRoutes(t))
		}
	}
	if !s.onLANv6Default(t) {
		t.Errorf("IPv6 default route removed:\n%s", s.allRoutes(t))
	}
	// The tunnel keeps working: the server's tunnel address and the host
	// behind it answer through the tunnel.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, s.lab.Client, s.srv.TunnelIP()); err != nil {
		t.Fatalf("ping server through the tunnel: %v\n%s", err, s.allRoutes(t))
	}
	if err := nstest.Ping(ctx, s.lab.Client, nstest.LANHostIP); err != nil {
		t.Fatalf("ping lan host through the tunnel: %v\n%s", err, s.allRoutes(t))
	}
	disconnect(t, cl)
	if !strings.Contains(cl.Output(), `"action":"restored","route":"198.18.0.0/24 dev eth0`) {
		t.Errorf("no restored event for the LAN route:\n%s", cl.Output())
	}
	if after := s.allRoutes(t); after != beforeRoutes {
		t.Errorf("ip -d route show differs after disconnect:\nbefore:\n%s\nafter:\n%s", beforeRoutes, after)
	}
	nstest.AssertUnchanged(t, before)
}

func (s *setup) onLANv6Default(t *testing.T) bool {
	out := nstest.MustRun(t, s.lab.Client, "ip", "-6", "route", "show", "default")
	return strings.Contains(out, "dev "+nstest.ClientDev)
}

func TestEnforceRoutesFlagWithoutEndpointSwitch(t *testing.T) {
	s := newSetup(t, openvpnpeer.ServerConfig{
		PushRoutes: []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16")},
	})
	s.ipRoute(t, "add", "172.31.1.0/24", "via", gw.String())
	before := nstest.MustSnapshot(t, s.lab.Client)

	cl := s.connect(t)
	if !s.onLAN(t, "172.31.1.0/24") {
		t.Fatal("route removed although neither the endpoint nor the admin asked for enforcement")
	}
	disconnect(t, cl)

	cl = s.connect(t, "--enforce-routes")
	if s.onLAN(t, "172.31.1.0/24") {
		t.Fatalf("--enforce-routes did not remove the conflict:\n%s", cl.Output())
	}
	disconnect(t, cl)
	nstest.AssertUnchanged(t, before)
}
