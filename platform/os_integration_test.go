//go:build darwin || windows

package platform_test

// Integration tests of the macOS and Windows backends on the real system
// (TestOS*). They run only with CVPN_OS_INTEGRATION=1 as root or an
// elevated Administrator (internal/testkit/osinteg), route TEST-NET
// prefixes only, never touch the default route, and check that the routes,
// interfaces and DNS settings afterwards equal those before. The
// OS-specific checks (tunnel name, DNS keys) are in os_darwin_test.go and
// os_windows_test.go.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

var (
	osTunAddr = platform.Address{Prefix: netip.MustParsePrefix("192.0.2.2/32"), Peer: netip.MustParseAddr("192.0.2.1")}
	osRoute   = netip.MustParsePrefix("198.51.100.0/24")
	osRoute2  = netip.MustParsePrefix("203.0.113.0/25")
	osDNS     = netip.MustParseAddr("192.0.2.53")
	osDNSZone = "cvpn-os-test.example"
	// osDNSRoute is a routing-only domain (OpenVPN 2.7 dns option's
	// resolve-domains): split to the tunnel, not searched.
	osDNSRoute = "cvpn-os-route.example"
	osCrashEnv = "CVPN_OS_CRASH_STATE"
)

func openHost(t *testing.T) platform.Host {
	t.Helper()
	h, err := platform.Open(platform.OpenOptions{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// systemState is what a test must leave as it found it: the relevant
// routes (TEST-NET, defaults, the test's interfaces) and this OS's DNS
// settings (dnsState); dnsApplied checks a tunnel's own DNS entry.
type systemState struct {
	routes []routing.Route
	dns    string
}

func snapshot(t *testing.T, h platform.Host, ifnames ...string) systemState {
	t.Helper()
	rs, err := h.List()
	if err != nil {
		t.Fatal(err)
	}
	return systemState{routes: osinteg.Relevant(rs, ifnames...), dns: dnsState(t)}
}

func (s systemState) mustEqual(t *testing.T, after systemState) {
	t.Helper()
	if d := osinteg.Diff(s.routes, after.routes); d != "" {
		t.Errorf("routes changed (- before, + after):\n%s", d)
	}
	// The OS may take a moment to recompute its DNS view (configd on
	// macOS): look again for up to 5s.
	for i := 0; i < 50 && s.dns != after.dns; i++ {
		time.Sleep(100 * time.Millisecond)
		after.dns = dnsState(t)
	}
	if s.dns != after.dns {
		t.Errorf("DNS settings changed:\nbefore:\n%s\nafter:\n%s", s.dns, after.dns)
	}
}

func hasRoute(t *testing.T, h platform.Host, dst netip.Prefix, ifname string) bool {
	t.Helper()
	rs, err := h.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Dst == dst && (ifname == "" || r.Interface == ifname) {
			return true
		}
	}
	return false
}

// newTUN creates and configures a tunnel device and removes it at the end.
func newTUN(t *testing.T, h platform.Host) (name string, index int) {
	t.Helper()
	dev, name, err := h.CreateTUN(osTunName, 1400)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	index, err = h.ConfigureInterface(name, []platform.Address{osTunAddr}, 1400)
	if err != nil {
		t.Fatal(err)
	}
	return name, index
}

// TestOSTunnelDeviceAddressesRoutes: create the tunnel device, set its
// address, add, list, look up and delete a route through it.
func TestOSTunnelDeviceAddressesRoutes(t *testing.T) {
	osinteg.Require(t, "TestOSTunnelDeviceAddressesRoutes (tunnel device, addresses, routes add/get/delete)")
	osinteg.MustTestNet(t, osRoute, osTunAddr.Prefix)
	h := openHost(t)
	name, index := newTUN(t, h)
	before := snapshot(t, h, name)

	ifi, err := net.InterfaceByName(name)
	if err != nil || ifi.Index != index {
		t.Fatalf("interface %s: %v (index %d, configured %d)", name, err, ifi.Index, index)
	}
	addrs, _ := ifi.Addrs()
	if !strings.Contains(fmt.Sprint(addrs), "192.0.2.2") {
		t.Fatalf("interface %s addresses %v, want 192.0.2.2", name, addrs)
	}
	r := routing.Route{Dst: osRoute, Interface: name, IfIndex: index, Protocol: platform.ProtoCVPN}
	if err := h.Add(r); err != nil {
		t.Fatal(err)
	}
	added := true
	defer func() {
		if added {
			h.Delete(r)
		}
	}()
	if !hasRoute(t, h, osRoute, name) {
		t.Fatalf("route %s dev %s not listed after Add", osRoute, name)
	}
	if err := h.Add(r); !errors.Is(err, platform.ErrExists) {
		t.Errorf("second Add: %v, want ErrExists", err)
	}
	hop, err := h.RouteTo(netip.MustParseAddr("198.51.100.7"))
	if err != nil || hop.Interface != name {
		t.Errorf("RouteTo(198.51.100.7) = %+v, %v; want interface %s", hop, err, name)
	}
	if err := h.Delete(r); err != nil {
		t.Fatal(err)
	}
	added = false
	if err := h.Delete(r); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if hasRoute(t, h, osRoute, name) {
		t.Error("route still listed after Delete")
	}
	before.mustEqual(t, snapshot(t, h, name))
}

// TestOSRouteWatch: a route appearing and disappearing is reported.
func TestOSRouteWatch(t *testing.T) {
	osinteg.Require(t, "TestOSRouteWatch (route watch)")
	osinteg.MustTestNet(t, osRoute2)
	h := openHost(t)
	name, index := newTUN(t, h)
	before := snapshot(t, h, name)
	ctx, cancel := context.WithCancel(context.Background())
	updates := make(chan platform.RouteUpdate, 256)
	done := make(chan error, 1)
	go func() {
		done <- h.Watch(ctx, func(u platform.RouteUpdate) {
			select {
			case updates <- u:
			default:
			}
		})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return after cancel")
		}
	}()
	wait := func(kind routing.ChangeKind) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case u := <-updates:
				for _, c := range u.Changes {
					if c.Kind == kind && c.Route.Dst == osRoute2 {
						return
					}
				}
			case <-deadline:
				t.Fatalf("no %v of %s within 10s", kind, osRoute2)
			}
		}
	}
	select { // the first update is the snapshot
	case u := <-updates:
		if !u.Resync {
			t.Fatalf("first update is not a snapshot: %+v", u)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot within 10s")
	}
	r := routing.Route{Dst: osRoute2, Interface: name, IfIndex: index}
	if err := h.Add(r); err != nil {
		t.Fatal(err)
	}
	wait(routing.ChangeAdded)
	if err := h.Delete(r); err != nil {
		t.Fatal(err)
	}
	wait(routing.ChangeDeleted)
	before.mustEqual(t, snapshot(t, h, name))
}

func osTunnelConfig(id string) platform.TunnelConfig {
	return platform.TunnelConfig{
		ID:        id,
		Name:      osTunName,
		MTU:       1400,
		Addresses: []platform.Address{osTunAddr},
		Routes:    []platform.TunnelRoute{{Dst: osRoute}},
		DNS:       &platform.DNSConfig{Servers: []netip.Addr{osDNS}, SearchDomains: []string{osDNSZone}, RoutingDomains: []string{osDNSRoute}},
	}
}

// TestOSApplyCloseRestores: a whole tunnel (device, address, route, DNS)
// applied and closed leaves the system as it was. Its DNS is the dns
// option's split DNS: a search domain and a resolve-domains routing domain
// (scutil SupplementalMatchDomains, NRPT namespaces), read back from the
// system's own resolver view (scutil --dns, Get-DnsClientNrptPolicy).
func TestOSApplyCloseRestores(t *testing.T) {
	osinteg.Require(t, "TestOSApplyCloseRestores (tunnel with routes and DNS applied and restored)")
	osinteg.MustTestNet(t, osRoute, osTunAddr.Prefix, netip.PrefixFrom(osDNS, 32))
	h := openHost(t)
	before := snapshot(t, h)
	dir := t.TempDir()
	a, err := (&platform.Configurator{Sys: h, StateDir: dir}).Apply(osTunnelConfig("ostest"))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			a.Close()
		}
	}()
	if !hasRoute(t, h, osRoute, a.Name) {
		t.Errorf("tunnel route %s dev %s missing", osRoute, a.Name)
	}
	if !dnsApplied(t, a.Name) {
		t.Errorf("DNS for %s not applied", a.Name)
	}
	if ok, out := waitSplitDNS(t, true); !ok {
		t.Errorf("the system's resolver configuration does not send %s (resolve-domains) to %s within 5s:\n%s", osDNSRoute, osDNS, out)
	}
	// The state file records what was changed, before Close.
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 1 {
		t.Errorf("state files %v, want one", files)
	}
	name := a.Name
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if dnsApplied(t, name) {
		t.Errorf("DNS for %s left after Close", name)
	}
	if ok, out := waitSplitDNS(t, false); ok {
		t.Errorf("the system's resolver configuration still sends %s to %s 5s after Close:\n%s", osDNSRoute, osDNS, out)
	}
	before.mustEqual(t, snapshot(t, h, name))
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files left: %v", files)
	}
}

// waitSplitDNS waits up to 5s for the system's own resolver configuration
// (splitDNSActive) to send the routing domain to the tunnel's server (want)
// or no longer; it returns the last answer and what was read.
func waitSplitDNS(t *testing.T, want bool) (bool, string) {
	t.Helper()
	ok, out := splitDNSActive(t)
	for i := 0; i < 50 && ok != want; i++ {
		time.Sleep(100 * time.Millisecond)
		ok, out = splitDNSActive(t)
	}
	return ok, out
}

// TestOSFullTunnelDNSRestores: DNS for every name (FullTunnel: macOS
// replaces the primary service's DNS, Windows sets the interface's DNS
// servers and an NRPT rule for every name) is applied and restored. Only
// DNS is full: the routes stay TEST-NET.
func TestOSFullTunnelDNSRestores(t *testing.T) {
	osinteg.Require(t, "TestOSFullTunnelDNSRestores (full-tunnel DNS applied and restored)")
	h := openHost(t)
	before := snapshot(t, h)
	cfg := osTunnelConfig("osfulldns")
	cfg.DNS.FullTunnel = true
	a, err := (&platform.Configurator{Sys: h, StateDir: t.TempDir()}).Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	name := a.Name
	ok := false
	for i := 0; i < 50 && !ok; i++ { // the OS applies it within a moment
		ok = fullDNSApplied(t, name)
		if !ok {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ok {
		t.Errorf("full-tunnel DNS via %s (%s) not in effect within 5s", name, osDNS)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before.mustEqual(t, snapshot(t, h, name))
}

// TestOSEnforceConflictRestore: another program's route that steals part
// of the VPN's prefix is removed while enforcement runs and put back when
// it stops.
func TestOSEnforceConflictRestore(t *testing.T) {
	osinteg.Require(t, "TestOSEnforceConflictRestore (route enforcement removes and restores a conflicting route)")
	conflict := netip.MustParsePrefix("198.51.100.128/25")
	osinteg.MustTestNet(t, osRoute, conflict)
	h := openHost(t)
	vpnName, vpnIndex := newTUN(t, h)
	otherName, otherIndex := newTUN(t, h)
	before := snapshot(t, h, vpnName, otherName)
	vpnRoute := routing.Route{Dst: osRoute, Interface: vpnName, IfIndex: vpnIndex, Protocol: platform.ProtoCVPN}
	other := routing.Route{Dst: conflict, Interface: otherName, IfIndex: otherIndex}
	for _, r := range []routing.Route{vpnRoute, other} {
		if err := h.Add(r); err != nil {
			t.Fatal(err)
		}
		defer h.Delete(r)
	}
	pol, err := routing.NewPolicy(routing.PolicyInput{AdminForce: true, VPNRoutes: []netip.Prefix{osRoute},
		Tunnel: routing.Tunnel{Name: vpnName, Index: vpnIndex}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := routing.NewEnforcer(routing.Config{Policy: pol, Table: h, JournalPath: filepath.Join(t.TempDir(), "journal.json")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if hasRoute(t, h, conflict, otherName) {
		t.Errorf("conflicting route %s dev %s still there while enforcing", conflict, otherName)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !hasRoute(t, h, conflict, otherName) {
		t.Errorf("conflicting route %s dev %s not restored", conflict, otherName)
	}
	for _, r := range []routing.Route{other, vpnRoute} {
		if err := h.Delete(r); err != nil {
			t.Error(err)
		}
	}
	before.mustEqual(t, snapshot(t, h, vpnName, otherName))
}

// TestMain runs osCrashHelper instead of the tests in the process that
// TestOSRecoverAfterKill starts and kills.
func TestMain(m *testing.M) {
	if dir := os.Getenv(osCrashEnv); dir != "" {
		osCrashHelper(dir)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// osCrashHelper applies the test tunnel, says READY and waits to be
// killed (at most 60s).
func osCrashHelper(dir string) {
	h, err := platform.Open(platform.OpenOptions{})
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	a, err := (&platform.Configurator{Sys: h, StateDir: dir}).Apply(osTunnelConfig("oscrash"))
	if err != nil {
		fmt.Println("ERROR", err)
		return
	}
	fmt.Println("READY", a.Name)
	time.Sleep(60 * time.Second)
	a.Close()
}

// TestOSRecoverAfterKill: a process that applied a tunnel is killed; the
// next start recovers from the state file and the system is as before.
func TestOSRecoverAfterKill(t *testing.T) {
	osinteg.Require(t, "TestOSRecoverAfterKill (crash recovery from the state file)")
	h := openHost(t)
	before := snapshot(t, h)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), osCrashEnv+"="+dir)
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
			l := sc.Text()
			if strings.HasPrefix(l, "READY ") {
				ready <- strings.TrimPrefix(l, "READY ")
			} else if strings.HasPrefix(l, "ERROR ") {
				t.Errorf("helper: %s", l)
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
	case <-time.After(60 * time.Second):
		t.Fatal("helper not ready within 60s")
	}
	if !hasRoute(t, h, osRoute, name) || !dnsApplied(t, name) {
		t.Fatalf("helper's tunnel %s: route or DNS missing", name)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	// The device goes with the process (bounded wait); the DNS settings
	// stay until Recover.
	for i := 0; i < 100; i++ {
		if _, err := net.InterfaceByName(name); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := net.InterfaceByName(name); err == nil {
		t.Errorf("tunnel device %s still there 10s after the kill", name)
	}
	if !dnsApplied(t, name) {
		t.Errorf("DNS for %s gone before Recover: the crash left nothing to recover", name)
	}
	if err := (&platform.Configurator{Sys: openHost(t), StateDir: dir}).Recover(); err != nil {
		t.Fatal(err)
	}
	if dnsApplied(t, name) {
		t.Errorf("DNS for %s left after Recover", name)
	}
	before.mustEqual(t, snapshot(t, h, name))
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("state files left: %v", files)
	}
}
