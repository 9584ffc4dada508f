package platform_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

// topo is a client namespace whose veth0 (192.168.77.2/24, fd77::2/64)
// reaches a gateway namespace (192.168.77.1, fd77::1) that holds its
// default routes.
type topo struct {
	client, gw string
	ns         netns.NsHandle
}

// requireNetAdmin skips the test when it cannot run here; with CI=true it
// fails instead, since CI must run it.
func requireNetAdmin(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces and TUN devices"
	} else if _, err := os.Stat("/dev/net/tun"); err != nil {
		why = "needs /dev/net/tun: " + err.Error()
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs the ip command (iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func ipCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := ipTry(args...)
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func ipTry(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return string(out), err
}

func newTopo(t *testing.T) *topo {
	t.Helper()
	requireNetAdmin(t)
	b := make([]byte, 4)
	rand.Read(b)
	sfx := hex.EncodeToString(b)
	tp := &topo{client: "cvpnc-" + sfx, gw: "cvpng-" + sfx}
	for _, n := range []string{tp.client, tp.gw} {
		// ip netns exec bind-mounts this file over /etc/resolv.conf, so
		// nothing run in the namespace can reach the host's.
		etc := filepath.Join("/etc/netns", n)
		if err := os.MkdirAll(etc, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(etc) })
		if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		ipCmd(t, "netns", "add", n)
		t.Cleanup(func() { ipTry("netns", "del", n) })
	}
	c, g := tp.client, tp.gw
	ipCmd(t, "-n", c, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", g)
	ipCmd(t, "-n", c, "link", "set", "lo", "up")
	ipCmd(t, "-n", g, "link", "set", "lo", "up")
	ipCmd(t, "-n", c, "addr", "add", "192.168.77.2/24", "dev", "veth0")
	ipCmd(t, "-n", c, "-6", "addr", "add", "fd77::2/64", "dev", "veth0", "nodad")
	ipCmd(t, "-n", g, "addr", "add", "192.168.77.1/24", "dev", "veth1")
	ipCmd(t, "-n", g, "-6", "addr", "add", "fd77::1/64", "dev", "veth1", "nodad")
	ipCmd(t, "-n", c, "link", "set", "veth0", "up")
	ipCmd(t, "-n", g, "link", "set", "veth1", "up")
	ipCmd(t, "-n", c, "route", "add", "default", "via", "192.168.77.1")
	ipCmd(t, "-n", c, "-6", "route", "add", "default", "via", "fd77::1")
	// Wait until the veth carrier is up, or "linkdown" flags would make
	// route listings differ within a test.
	for deadline := time.Now().Add(5 * time.Second); strings.Contains(ipCmd(t, "-n", c, "route", "show"), "linkdown"); {
		if time.Now().After(deadline) {
			t.Fatal("veth0 still linkdown after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h, err := netns.GetFromName(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	tp.ns = h
	return tp
}

func (tp *topo) open(t *testing.T, resolv string) platform.Host {
	t.Helper()
	h, err := platform.OpenNetNS(tp.ns, platform.OpenOptions{NoResolved: true, ResolvConfPath: resolv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// tables returns `ip route` and `ip -6 route` of the client namespace.
func (tp *topo) tables(t *testing.T) string {
	return ipCmd(t, "-n", tp.client, "route", "show") + "--\n" + ipCmd(t, "-n", tp.client, "-6", "route", "show")
}

func tempResolv(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte(origResolv), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func linuxConfig() platform.TunnelConfig {
	cfg := fullConfig()
	cfg.Servers = []netip.Addr{addr("203.0.113.5"), addr("2001:db8:99::5")}
	return cfg
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("missing %q in:\n%s", l, out)
		}
	}
}

func TestLinuxApplyClose(t *testing.T) {
	tp := newTopo(t)
	resolv := tempResolv(t)
	host := tp.open(t, resolv)
	before := tp.tables(t)

	hop, err := host.RouteTo(addr("203.0.113.5"))
	if err != nil || hop.Gateway != addr("192.168.77.1") || hop.Interface != "veth0" {
		t.Fatalf("RouteTo server: %+v %v", hop, err)
	}
	if hop, err := host.RouteTo(addr("192.168.77.2")); err != nil || !hop.Local {
		t.Fatalf("RouteTo own address: %+v %v", hop, err)
	}

	c := &platform.Configurator{Sys: host, StateDir: t.TempDir()}
	a, err := c.Apply(linuxConfig())
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	link := ipCmd(t, "-n", tp.client, "-d", "link", "show", a.Name)
	wantLines(t, link, "mtu 1400", "tun type tun", "UP")
	addrs := ipCmd(t, "-n", tp.client, "addr", "show", "dev", a.Name)
	wantLines(t, addrs, "inet 10.8.0.6/24", "inet6 fd00:8::1000/64")
	v4 := ipCmd(t, "-n", tp.client, "route", "show")
	wantLines(t, v4,
		"0.0.0.0/1 dev cvpn0 proto 156 scope link",
		"128.0.0.0/1 dev cvpn0 proto 156 scope link",
		"203.0.113.5 via 192.168.77.1 dev veth0 proto 156",
		"198.51.100.0/24 via 192.168.77.1 dev veth0 proto 156",
		"172.31.0.0/16 dev cvpn0 proto 156 scope link",
		"10.200.0.0/16 via 10.8.0.1 dev cvpn0 proto 156 metric 50",
		"default via 192.168.77.1 dev veth0",
	)
	v6 := ipCmd(t, "-n", tp.client, "-6", "route", "show")
	wantLines(t, v6,
		"::/3 dev cvpn0 proto 156",
		"2000::/4 dev cvpn0 proto 156",
		"3000::/4 dev cvpn0 proto 156",
		"fc00::/7 dev cvpn0 proto 156",
		"2001:db8:99::5 via fd77::1 dev veth0 proto 156",
		"2001:db8:77::/48 via fd77::1 dev veth0 proto 156",
	)
	// The kernel now sends internet traffic into the tunnel and the server
	// around it.
	if hop, _ := host.RouteTo(addr("8.8.8.8")); hop.Interface != "cvpn0" {
		t.Errorf("8.8.8.8 via %+v", hop)
	}
	if hop, _ := host.RouteTo(addr("203.0.113.5")); hop.Interface != "veth0" {
		t.Errorf("server via %+v", hop)
	}
	if data, _ := os.ReadFile(resolv); !strings.Contains(string(data), "nameserver 10.0.0.2") {
		t.Errorf("resolv.conf not written:\n%s", data)
	}

	closed = true
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if after := tp.tables(t); after != before {
		t.Errorf("routes after Close:\n%s\nwant:\n%s", after, before)
	}
	if out, err := ipTry("-n", tp.client, "link", "show", "cvpn0"); err == nil {
		t.Errorf("TUN left after Close:\n%s", out)
	}
	if data, _ := os.ReadFile(resolv); string(data) != origResolv {
		t.Errorf("resolv.conf not restored:\n%s", data)
	}
}

func TestLinuxRecoverDroppedHandle(t *testing.T) {
	tp := newTopo(t)
	resolv := tempResolv(t)
	host := tp.open(t, resolv)
	before := tp.tables(t)
	dir := t.TempDir()
	cfg := platform.TunnelConfig{
		Name:             "cvpntest%d",
		Addresses:        []platform.Address{{Prefix: pfx("10.8.0.6/32"), Peer: addr("10.8.0.5")}},
		RedirectIPv4:     true,
		Servers:          []netip.Addr{addr("203.0.113.5")},
		NetGatewayRoutes: []netip.Prefix{pfx("198.51.100.0/24")},
		DNS:              &platform.DNSConfig{Servers: []netip.Addr{addr("10.8.0.1")}},
	}
	a, err := (&platform.Configurator{Sys: host, StateDir: dir}).Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The dropped device's file stays open until the test ends.
	defer a.Device.Close()
	wantLines(t, ipCmd(t, "-n", tp.client, "addr", "show", "dev", "cvpntest0"), "inet 10.8.0.6 peer 10.8.0.5/32")

	// Simulated crash: the handle is dropped without Close. A new
	// Configurator (the next start) recovers from the state directory.
	host2 := tp.open(t, resolv)
	if err := (&platform.Configurator{Sys: host2, StateDir: dir}).Recover(); err != nil {
		t.Fatal(err)
	}
	if out, err := ipTry("-n", tp.client, "link", "show", "cvpntest0"); err == nil {
		t.Errorf("stale TUN not deleted:\n%s", out)
	}
	if after := tp.tables(t); after != before {
		t.Errorf("routes after Recover:\n%s\nwant:\n%s", after, before)
	}
	if data, _ := os.ReadFile(resolv); string(data) != origResolv {
		t.Errorf("resolv.conf not restored:\n%s", data)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files left: %v", files)
	}
}

// TestMain runs crashHelper instead of the tests in the process that
// TestLinuxRecoverAfterKill starts and kills.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CVPN_PLATFORM_CRASH_STATE"); dir != "" {
		crashHelper(dir, os.Getenv("CVPN_PLATFORM_CRASH_RESOLV"))
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// crashHelper applies linuxConfig in the current namespace, says READY and
// waits to be killed (at most 60s).
func crashHelper(dir, resolv string) {
	host, err := platform.Open(platform.OpenOptions{NoResolved: true, ResolvConfPath: resolv})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	a, err := (&platform.Configurator{Sys: host, StateDir: dir}).Apply(linuxConfig())
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	fmt.Println("READY", a.Name)
	time.Sleep(60 * time.Second)
	a.Close()
}

func TestLinuxRecoverAfterKill(t *testing.T) {
	tp := newTopo(t)
	resolv := tempResolv(t)
	before := tp.tables(t)
	dir := t.TempDir()

	cmd := exec.Command("ip", "netns", "exec", tp.client, os.Args[0])
	cmd.Env = append(os.Environ(), "CVPN_PLATFORM_CRASH_STATE="+dir, "CVPN_PLATFORM_CRASH_RESOLV="+resolv)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "READY ") {
				ready <- strings.TrimPrefix(l, "READY ")
			}
		}
		close(ready)
	}()
	var name string
	select {
	case n, ok := <-ready:
		if !ok {
			t.Fatal("helper exited before applying")
		}
		name = n
	case <-time.After(30 * time.Second):
		t.Fatal("helper not ready within 30s")
	}
	wantLines(t, ipCmd(t, "-n", tp.client, "route", "show"), "0.0.0.0/1 dev "+name)

	// kill -9, by PID (ip netns exec execs the test binary in place).
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	// The kernel removed the TUN with its routes; the bypass routes and
	// resolv.conf are left behind.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := ipTry("-n", tp.client, "link", "show", name); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TUN %s still there after kill", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantLines(t, ipCmd(t, "-n", tp.client, "route", "show"), "203.0.113.5 via 192.168.77.1 dev veth0 proto 156", "198.51.100.0/24 via 192.168.77.1")
	if data, _ := os.ReadFile(resolv); string(data) == origResolv {
		t.Fatal("helper did not change resolv.conf")
	}

	host := tp.open(t, resolv)
	if err := (&platform.Configurator{Sys: host, StateDir: dir}).Recover(); err != nil {
		t.Fatal(err)
	}
	if after := tp.tables(t); after != before {
		t.Errorf("routes after Recover:\n%s\nwant:\n%s", after, before)
	}
	if data, _ := os.ReadFile(resolv); string(data) != origResolv {
		t.Errorf("resolv.conf not restored:\n%s", data)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files left: %v", files)
	}
}

func findRoute(rs []routing.Route, dst string) (routing.Route, bool) {
	for _, r := range rs {
		if r.Dst == pfx(dst) {
			return r, true
		}
	}
	return routing.Route{}, false
}

func TestLinuxRoutesExactRoundTrip(t *testing.T) {
	tp := newTopo(t)
	host := tp.open(t, "")
	c := tp.client
	ipCmd(t, "-n", c, "route", "add", "10.50.0.0/16", "proto", "static", "metric", "77",
		"nexthop", "via", "192.168.77.1", "weight", "2", "nexthop", "via", "192.168.77.3", "weight", "1")
	ipCmd(t, "-n", c, "route", "add", "10.60.0.0/16", "via", "192.168.77.1", "src", "192.168.77.2", "mtu", "1300", "proto", "boot")
	ipCmd(t, "-n", c, "-6", "route", "add", "fd60::/64", "via", "fd77::1", "metric", "5", "proto", "static")
	ipCmd(t, "-n", c, "route", "add", "10.70.0.0/16", "via", "192.168.77.1", "table", "100")
	before := tp.tables(t)

	routes, err := host.List()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findRoute(routes, "10.70.0.0/16"); ok {
		t.Error("List returned a route of table 100")
	}
	mp, ok := findRoute(routes, "10.50.0.0/16")
	if !ok || len(mp.Hops) != 2 || mp.Hops[0].Weight != 2 || mp.Hops[1].Gateway != addr("192.168.77.3") || mp.Metric != 77 || mp.Protocol != 4 {
		t.Fatalf("multipath route %+v", mp)
	}
	withSrc, ok := findRoute(routes, "10.60.0.0/16")
	if !ok || withSrc.Src != addr("192.168.77.2") || withSrc.MTU != 1300 || withSrc.Interface != "veth0" {
		t.Fatalf("route with src %+v", withSrc)
	}
	v6, ok := findRoute(routes, "fd60::/64")
	if !ok || v6.Metric != 5 || v6.Gateway != addr("fd77::1") {
		t.Fatalf("IPv6 route %+v", v6)
	}

	// A route that differs in one attribute is not deleted.
	wrong := mp
	wrong.Hops = append([]routing.NextHop(nil), mp.Hops...)
	wrong.Hops[1].Gateway = addr("192.168.77.4")
	if err := host.Delete(wrong); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Delete with a wrong next hop: %v", err)
	}
	wrongMetric := withSrc
	wrongMetric.Metric = 9
	if err := host.Delete(wrongMetric); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Delete with a wrong metric: %v", err)
	}

	for _, r := range []routing.Route{mp, withSrc, v6} {
		if err := host.Delete(r); err != nil {
			t.Fatalf("Delete %s: %v", platform.RouteString(r), err)
		}
	}
	mid := tp.tables(t)
	for _, gone := range []string{"10.50.0.0/16", "10.60.0.0/16", "fd60::/64"} {
		if strings.Contains(mid, gone) {
			t.Errorf("%s not deleted:\n%s", gone, mid)
		}
	}
	for _, r := range []routing.Route{mp, withSrc, v6} {
		if err := host.Add(r); err != nil {
			t.Fatalf("Add %s: %v", platform.RouteString(r), err)
		}
	}
	if err := host.Add(withSrc); !errors.Is(err, platform.ErrExists) {
		t.Errorf("second Add: %v", err)
	}
	if after := tp.tables(t); after != before {
		t.Errorf("tables after delete+add:\n%s\nwant:\n%s", after, before)
	}
	if err := host.DeleteTUN("veth0"); err == nil || !strings.Contains(err.Error(), "not a TUN device") {
		t.Errorf("DeleteTUN on a veth: %v", err)
	}
	if err := host.DeleteTUN("nosuch0"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("DeleteTUN on a missing interface: %v", err)
	}
}

func TestLinuxWatch(t *testing.T) {
	tp := newTopo(t)
	host := tp.open(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	ups := make(chan platform.RouteUpdate, 64)
	done := make(chan error, 1)
	go func() { done <- host.Watch(ctx, func(u platform.RouteUpdate) { ups <- u }) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Watch did not stop")
		}
	}()

	select {
	case u := <-ups:
		if !u.Resync || len(u.Changes) != 1 || u.Changes[0].Kind != routing.ChangeResync {
			t.Fatalf("first update is not a snapshot with one resync change: %+v", u)
		}
		if _, ok := findRoute(u.Snapshot, "0.0.0.0/0"); !ok {
			t.Fatalf("snapshot lacks the default route: %v", routeStrings(u.Snapshot))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no snapshot")
	}

	// wait returns the first event for dst within 2s.
	wait := func(kind routing.ChangeKind, dst string) routing.Change {
		t.Helper()
		deadline := time.After(2 * time.Second)
		for {
			select {
			case u := <-ups:
				for _, ev := range u.Changes {
					if ev.Route.Table != routing.MainTable {
						t.Errorf("event of table %d", ev.Route.Table)
					}
					if ev.Kind == kind && ev.Route.Dst == pfx(dst) {
						return ev
					}
				}
			case <-deadline:
				t.Fatalf("no %s event for %s within 2s", kind, dst)
			}
		}
	}
	c := tp.client
	start := time.Now()
	ipCmd(t, "-n", c, "route", "add", "10.70.0.0/16", "via", "192.168.77.1", "table", "100")
	ipCmd(t, "-n", c, "route", "add", "10.99.0.0/16", "via", "192.168.77.1")
	ev := wait(routing.ChangeAdded, "10.99.0.0/16")
	if ev.Route.Gateway != addr("192.168.77.1") || ev.Route.Interface != "veth0" {
		t.Errorf("added event %+v", ev.Route)
	}
	t.Logf("add reported after %v", time.Since(start))
	ipCmd(t, "-n", c, "route", "del", "10.99.0.0/16")
	wait(routing.ChangeDeleted, "10.99.0.0/16")

	ipCmd(t, "-n", c, "-6", "route", "add", "fd99::/64", "via", "fd77::1")
	ev = wait(routing.ChangeAdded, "fd99::/64")
	if ev.Route.Gateway != addr("fd77::1") {
		t.Errorf("IPv6 event %+v", ev.Route)
	}
	ipCmd(t, "-n", c, "-6", "route", "del", "fd99::/64")
	wait(routing.ChangeDeleted, "fd99::/64")

	// Our own routes are reported with ProtoCVPN.
	own := routing.Route{Dst: pfx("10.98.0.0/16"), Gateway: addr("192.168.77.1"), Interface: "veth0", Protocol: platform.ProtoCVPN}
	if err := host.Add(own); err != nil {
		t.Fatal(err)
	}
	if ev := wait(routing.ChangeAdded, "10.98.0.0/16"); ev.Route.Protocol != platform.ProtoCVPN {
		t.Errorf("own route protocol %d", ev.Route.Protocol)
	}
}

func TestLinuxWatchResyncAfterOverflow(t *testing.T) {
	tp := newTopo(t)
	var logbuf syncBuffer
	logger := slog.New(slog.NewTextHandler(&logbuf, nil))
	host, err := platform.OpenNetNS(tp.ns, platform.OpenOptions{NoResolved: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ctx, cancel := context.WithCancel(context.Background())
	snapshots := make(chan []routing.Route, 16)
	block := make(chan struct{})
	blocked := false
	done := make(chan error, 1)
	go func() {
		done <- host.Watch(ctx, func(u platform.RouteUpdate) {
			if u.Resync {
				snapshots <- u.Snapshot
				return
			}
			if !blocked {
				// A slow consumer: the kernel's socket buffer overflows.
				blocked = true
				<-block
			}
		})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Watch did not stop")
		}
	}()
	select {
	case <-snapshots:
	case <-time.After(5 * time.Second):
		t.Fatal("no first snapshot")
	}
	const n = 30000
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "route add 10.%d.%d.0/24 via 192.168.77.1\n", 100+i/256, i%256)
	}
	batch := filepath.Join(t.TempDir(), "routes")
	os.WriteFile(batch, []byte(b.String()), 0o600)
	ipCmd(t, "-n", tp.client, "-batch", batch)
	close(block)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case snap := <-snapshots:
			if len(snap) >= n {
				if !strings.Contains(logbuf.String(), "resubscribing") {
					t.Errorf("resync without a resubscribe; log:\n%s", logbuf.String())
				}
				t.Logf("log: %s", logbuf.String())
				return
			}
			t.Logf("snapshot with %d routes", len(snap))
		case <-deadline:
			t.Fatal("no resync snapshot with all routes after the overflow")
		}
	}
}

func TestLinuxWatchPeriodicResync(t *testing.T) {
	tp := newTopo(t)
	host, err := platform.OpenNetNS(tp.ns, platform.OpenOptions{NoResolved: true, ResyncInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	count := 0
	var cancelled time.Time
	err = host.Watch(ctx, func(u platform.RouteUpdate) {
		if u.Resync {
			count++
			if count == 3 {
				cancelled = time.Now()
				cancel()
			}
		}
	})
	if d := time.Since(cancelled); d > 500*time.Millisecond {
		t.Errorf("Watch took %v to return after cancel", d)
	}
	if !errors.Is(err, context.Canceled) || count != 3 {
		t.Fatalf("Watch: %v after %d snapshots, want 3 snapshots within 3s", err, count)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
