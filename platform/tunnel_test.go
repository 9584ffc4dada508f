package platform_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/platformtest"
	"github.com/cvpn/cvpn/routing"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// lan returns a fake system with eth0 192.168.1.10/24, default routes via
// 192.168.1.1 (metric 100) and 192.168.1.254 (metric 600), and an IPv6
// default via fe80::1.
func lan(t *testing.T) *platformtest.System {
	t.Helper()
	s := platformtest.New()
	s.AddInterface("eth0", pfx("192.168.1.10/24"), pfx("2001:db8:1::10/64"))
	for _, r := range []routing.Route{
		{Dst: pfx("0.0.0.0/0"), Gateway: addr("192.168.1.1"), Interface: "eth0", Metric: 100, Protocol: 16},
		{Dst: pfx("0.0.0.0/0"), Gateway: addr("192.168.1.254"), Interface: "eth0", Metric: 600, Protocol: 16},
		{Dst: pfx("::/0"), Gateway: addr("fe80::1"), Interface: "eth0", Metric: 1024, Protocol: 9},
	} {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func fullConfig() platform.TunnelConfig {
	return platform.TunnelConfig{
		MTU:              1400,
		Addresses:        []platform.Address{{Prefix: pfx("10.8.0.6/24")}, {Prefix: pfx("fd00:8::1000/64")}},
		RedirectIPv4:     true,
		RedirectIPv6:     true,
		Servers:          []netip.Addr{addr("203.0.113.5"), addr("2001:db8:99::5")},
		Routes:           []platform.TunnelRoute{{Dst: pfx("172.31.0.0/16")}, {Dst: pfx("10.200.0.0/16"), Gateway: addr("10.8.0.1"), Metric: 50}},
		NetGatewayRoutes: []netip.Prefix{pfx("198.51.100.0/24"), pfx("2001:db8:77::/48")},
		DNS:              &platform.DNSConfig{Servers: []netip.Addr{addr("10.0.0.2")}, SearchDomains: []string{"corp.example"}, FullTunnel: true},
	}
}

func routeStrings(rs []routing.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, platform.RouteString(r))
	}
	return out
}

func TestApplyAndCloseRestoresEverything(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	dir := t.TempDir()
	c := &platform.Configurator{Sys: sys, StateDir: dir}
	a, err := c.Apply(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "cvpn0" {
		t.Errorf("TUN name %q, want cvpn0", a.Name)
	}
	ifc, ok := sys.Interface("cvpn0")
	if !ok || !ifc.TUN || !ifc.Up || ifc.MTU != 1400 || len(ifc.Addresses) != 2 {
		t.Fatalf("TUN interface %+v", ifc)
	}
	got := strings.Join(routeStrings(a.Routes()), "\n")
	want := strings.Join([]string{
		// server host routes via the gateway each is reached by now
		"203.0.113.5/32 via 192.168.1.1 dev eth0 proto 156",
		"2001:db8:99::5/128 via fe80::1 dev eth0 proto 156",
		// net_gateway routes via the lowest-metric default gateway
		"198.51.100.0/24 via 192.168.1.1 dev eth0 proto 156",
		"2001:db8:77::/48 via fe80::1 dev eth0 proto 156",
		// def1 and pushed routes through the tunnel
		"0.0.0.0/1 dev cvpn0 proto 156",
		"128.0.0.0/1 dev cvpn0 proto 156",
		"::/3 dev cvpn0 proto 156",
		"2000::/4 dev cvpn0 proto 156",
		"3000::/4 dev cvpn0 proto 156",
		"fc00::/7 dev cvpn0 proto 156",
		"172.31.0.0/16 dev cvpn0 proto 156",
		"10.200.0.0/16 via 10.8.0.1 dev cvpn0 proto 156 metric 50",
	}, "\n")
	if got != want {
		t.Errorf("routes added:\n%s\nwant:\n%s", got, want)
	}
	for _, r := range a.Routes() {
		if r.Interface == "cvpn0" && !r.Is6() && !r.Gateway.IsValid() && r.Scope != platform.ScopeLink {
			t.Errorf("route %s: scope %d, want link", platform.RouteString(r), r.Scope)
		}
	}
	if len(sys.Routes()) != len(before)+12 {
		t.Errorf("table has %d routes, want %d", len(sys.Routes()), len(before)+12)
	}
	if cfg, ok := sys.FakeDNS().Config("cvpn0"); !ok || cfg.Servers[0] != addr("10.0.0.2") {
		t.Errorf("DNS not applied: %+v", cfg)
	}
	// Traffic to the server now leaves via eth0, not the tunnel.
	if hop, err := sys.RouteTo(addr("203.0.113.5")); err != nil || hop.Interface != "eth0" {
		t.Errorf("server reached via %+v, %v", hop, err)
	}
	if hop, _ := sys.RouteTo(addr("8.8.8.8")); hop.Interface != "cvpn0" {
		t.Errorf("internet reached via %+v, want cvpn0", hop)
	}
	state := platform.StatePath(dir, platform.DefaultID)
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"tun": "cvpn0"`) || !strings.Contains(string(data), "203.0.113.5/32") {
		t.Errorf("state file lacks TUN or server route:\n%s", data)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if after := sys.Routes(); !reflect.DeepEqual(after, before) {
		t.Errorf("routes after Close:\n%s\nwant:\n%s", routeStrings(after), routeStrings(before))
	}
	if _, ok := sys.Interface("cvpn0"); ok {
		t.Error("TUN interface left after Close")
	}
	if _, ok := sys.FakeDNS().Config("cvpn0"); ok {
		t.Error("DNS left after Close")
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after Close: %v", err)
	}
	if got := sys.FakeDNS().Log(); !reflect.DeepEqual(got, []string{"apply cvpn0", "revert cvpn0"}) {
		t.Errorf("DNS calls %v", got)
	}
}

func TestApplyFailureUndoesEverything(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	dir := t.TempDir()
	sys.FailAdd = func(r routing.Route) error {
		if r.Dst == pfx("172.31.0.0/16") {
			return errors.New("injected failure")
		}
		return nil
	}
	c := &platform.Configurator{Sys: sys, StateDir: dir}
	_, err := c.Apply(fullConfig())
	if err == nil || !strings.Contains(err.Error(), "add route 172.31.0.0/16 dev cvpn0") || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("error %v, want one naming the route", err)
	}
	if after := sys.Routes(); !reflect.DeepEqual(after, before) {
		t.Errorf("routes after failed Apply:\n%s", routeStrings(after))
	}
	if names := sys.Interfaces(); !reflect.DeepEqual(names, []string{"eth0", "lo"}) {
		t.Errorf("interfaces after failed Apply: %v", names)
	}
	if _, err := os.Stat(platform.StatePath(dir, platform.DefaultID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
}

func TestApplyDNSFailureUndoes(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	sys.FakeDNS().FailApply = errors.New("bus says no")
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	_, err := c.Apply(fullConfig())
	if err == nil || !strings.Contains(err.Error(), "DNS on cvpn0") {
		t.Fatalf("error %v", err)
	}
	if after := sys.Routes(); !reflect.DeepEqual(after, before) {
		t.Errorf("routes after failed Apply:\n%s", routeStrings(after))
	}
}

func TestCreateTUNFailure(t *testing.T) {
	sys := lan(t)
	sys.FailCreateTUN = errors.New("no /dev/net/tun")
	dir := t.TempDir()
	_, err := (&platform.Configurator{Sys: sys, StateDir: dir}).Apply(fullConfig())
	if err == nil || !strings.Contains(err.Error(), `create TUN "cvpn%d": no /dev/net/tun`) {
		t.Fatalf("error %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("files left in state dir: %v", files)
	}
}

func TestRecoverAfterCrash(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	dir := t.TempDir()
	a, err := (&platform.Configurator{Sys: sys, StateDir: dir}).Apply(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	// kill -9: the kernel drops the TUN and its routes, nothing else.
	sys.Crash(a.Name)
	if len(sys.Routes()) != len(before)+4 {
		t.Fatalf("after crash %d routes, want the 4 bypass/net_gateway routes left", len(sys.Routes())-len(before))
	}
	// A new process starts: Recover with the same state dir.
	c := &platform.Configurator{Sys: sys, StateDir: dir}
	if err := c.Recover(); err != nil {
		t.Fatal(err)
	}
	if after := sys.Routes(); !reflect.DeepEqual(after, before) {
		t.Errorf("routes after Recover:\n%s", routeStrings(after))
	}
	if _, ok := sys.FakeDNS().Config("cvpn0"); ok {
		t.Error("DNS left after Recover")
	}
	if _, err := os.Stat(platform.StatePath(dir, platform.DefaultID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
	// Nothing left: a second Recover is a no-op and Apply works again.
	if err := c.Recover(); err != nil {
		t.Fatal(err)
	}
	a2, err := c.Apply(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverDeletesLeftoverTUN(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	dir := t.TempDir()
	// Dropped without Close: the TUN is still there (process alive in a
	// broken state, or a persistent device).
	if _, err := (&platform.Configurator{Sys: sys, StateDir: dir}).Apply(fullConfig()); err != nil {
		t.Fatal(err)
	}
	if err := (&platform.Configurator{Sys: sys, StateDir: dir}).Recover(); err != nil {
		t.Fatal(err)
	}
	if names := sys.Interfaces(); !reflect.DeepEqual(names, []string{"eth0", "lo"}) {
		t.Errorf("interfaces after Recover: %v", names)
	}
	if after := sys.Routes(); !reflect.DeepEqual(after, before) {
		t.Errorf("routes after Recover:\n%s", routeStrings(after))
	}
}

func TestRecoverSkipsLiveProcess(t *testing.T) {
	sys := lan(t)
	dir := t.TempDir()
	a, err := (&platform.Configurator{Sys: sys, StateDir: dir}).Apply(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	path := platform.StatePath(dir, platform.DefaultID)
	data, _ := os.ReadFile(path)
	// Pretend another live process owns the state file.
	other := strings.Replace(string(data), `"pid": `, `"pid": 1`, 1)
	if err := os.WriteFile(path, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	n := len(sys.Routes())
	c := &platform.Configurator{Sys: sys, StateDir: dir, ProcessAlive: func(int) bool { return true }}
	if err := c.Recover(); err != nil {
		t.Fatal(err)
	}
	if len(sys.Routes()) != n {
		t.Error("Recover touched routes of a live process")
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("state file of live process removed: %v", err)
	}
	os.WriteFile(path, data, 0o600)
}

func TestRecoverReportsCorruptState(t *testing.T) {
	dir := t.TempDir()
	path := platform.StatePath(dir, "x")
	os.WriteFile(path, []byte("{garbage"), 0o600)
	err := (&platform.Configurator{Sys: platformtest.New(), StateDir: dir}).Recover()
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v, want one naming %s", err, path)
	}
}

func TestApplyRefusesWhileStateExists(t *testing.T) {
	sys := lan(t)
	dir := t.TempDir()
	c := &platform.Configurator{Sys: sys, StateDir: dir}
	a, err := c.Apply(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = c.Apply(fullConfig())
	if err == nil || !strings.Contains(err.Error(), "run Recover first") {
		t.Fatalf("second Apply: %v", err)
	}
	cfg := fullConfig()
	cfg.ID = "second"
	cfg.Servers = nil
	cfg.NetGatewayRoutes = nil
	cfg.RedirectIPv4, cfg.RedirectIPv6 = false, false
	cfg.Routes = []platform.TunnelRoute{{Dst: pfx("10.77.0.0/16")}}
	b, err := c.Apply(cfg)
	if err != nil {
		t.Fatalf("Apply with another ID: %v", err)
	}
	if b.Name != "cvpn1" {
		t.Errorf("second TUN %q, want cvpn1", b.Name)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBypassRouteForCoveredServers(t *testing.T) {
	sys := lan(t)
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	cfg := platform.TunnelConfig{
		Addresses: []platform.Address{{Prefix: pfx("10.8.0.6/32"), Peer: addr("10.8.0.5")}},
		// split tunnel: the server is not covered; 192.168.1.20 is on-link
		// and covered; 127.0.0.1 is local.
		Servers: []netip.Addr{addr("203.0.113.5"), addr("192.168.1.20"), addr("127.0.0.1")},
		Routes:  []platform.TunnelRoute{{Dst: pfx("172.31.0.0/16")}, {Dst: pfx("192.168.0.0/16")}, {Dst: pfx("127.0.0.0/8")}},
	}
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Only the covered on-link server gets a host route outside the
	// tunnel: a pushed route more specific than the connected /24 would
	// otherwise capture it.
	var bypass []string
	for _, r := range a.Routes() {
		if r.Interface != "cvpn0" {
			bypass = append(bypass, r.Dst.String()+" dev "+r.Interface)
		}
	}
	if len(bypass) != 1 || bypass[0] != "192.168.1.20/32 dev eth0" {
		t.Errorf("bypass routes = %v, want only 192.168.1.20/32 dev eth0", bypass)
	}
	ifc, _ := sys.Interface("cvpn0")
	if len(ifc.Addresses) != 1 || ifc.Addresses[0].Peer != addr("10.8.0.5") {
		t.Errorf("net30 address %+v", ifc.Addresses)
	}
}

func TestExistingRouteIsNotOwned(t *testing.T) {
	sys := lan(t)
	mine := routing.Route{Dst: pfx("198.51.100.0/24"), Gateway: addr("192.168.1.254"), Interface: "eth0", Protocol: 4}
	if err := sys.Add(mine); err != nil {
		t.Fatal(err)
	}
	before := sys.Routes()
	cfg := platform.TunnelConfig{NetGatewayRoutes: []netip.Prefix{pfx("198.51.100.0/24")}}
	a, err := (&platform.Configurator{Sys: sys, StateDir: t.TempDir()}).Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Routes()) != 0 {
		t.Errorf("owned routes %v", routeStrings(a.Routes()))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if after := sys.Routes(); !reflect.DeepEqual(after, before) {
		t.Errorf("pre-existing route touched:\n%s", routeStrings(after))
	}
}

func TestNetGatewayWithoutDefaultRoute(t *testing.T) {
	sys := platformtest.New()
	cfg := platform.TunnelConfig{NetGatewayRoutes: []netip.Prefix{pfx("198.51.100.0/24")}}
	_, err := (&platform.Configurator{Sys: sys, StateDir: t.TempDir()}).Apply(cfg)
	if err == nil || !strings.Contains(err.Error(), "net_gateway route 198.51.100.0/24: platform: no ipv4 default gateway") {
		t.Fatalf("error %v", err)
	}
	if !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("error %v does not wrap ErrNotFound", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*platform.TunnelConfig)
		want string
	}{
		{func(c *platform.TunnelConfig) { c.ID = "../x" }, `ID "../x"`},
		{func(c *platform.TunnelConfig) { c.Name = "averyveryverylongname" }, "Name"},
		{func(c *platform.TunnelConfig) { c.MTU = 100 }, "MTU 100"},
		{func(c *platform.TunnelConfig) { c.Addresses = append(c.Addresses, platform.Address{}) }, "Addresses[2]"},
		{func(c *platform.TunnelConfig) {
			c.Addresses[0].Peer = addr("fd00::1")
		}, "Addresses[0]: peer fd00::1 and address 10.8.0.6/24 differ"},
		{func(c *platform.TunnelConfig) { c.Routes[1].Gateway = addr("fd00::1") }, "Routes[1]: gateway"},
		{func(c *platform.TunnelConfig) { c.NetGatewayRoutes = append(c.NetGatewayRoutes, netip.Prefix{}) }, "NetGatewayRoutes[2]"},
		{func(c *platform.TunnelConfig) { c.Servers = append(c.Servers, netip.Addr{}) }, "Servers[2]"},
		{func(c *platform.TunnelConfig) { c.DNS.Servers = append(c.DNS.Servers, netip.Addr{}) }, "DNS.Servers[1]"},
	} {
		cfg := fullConfig()
		tc.mod(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate: %v, want %q", err, tc.want)
		}
	}
	good := fullConfig()
	if err := good.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	if _, err := (&platform.Configurator{Sys: platformtest.New()}).Apply(good); err == nil || !strings.Contains(err.Error(), "no state directory") {
		t.Errorf("Apply without state dir: %v", err)
	}
}

func TestDefaultGatewayLowestMetric(t *testing.T) {
	sys := lan(t)
	hop, err := platform.DefaultGateway(sys, platform.FamilyV4)
	if err != nil || hop.Gateway != addr("192.168.1.1") || hop.Interface != "eth0" {
		t.Fatalf("%+v %v", hop, err)
	}
	hop, err = platform.DefaultGateway(sys, platform.FamilyV6)
	if err != nil || hop.Gateway != addr("fe80::1") {
		t.Fatalf("%+v %v", hop, err)
	}
}

func TestFakeWatch(t *testing.T) {
	sys := lan(t)
	ctx, cancel := context.WithCancel(context.Background())
	ups := make(chan platform.RouteUpdate, 16)
	done := make(chan error, 1)
	go func() { done <- sys.Watch(ctx, func(u platform.RouteUpdate) { ups <- u }) }()
	next := func() platform.RouteUpdate {
		select {
		case u := <-ups:
			return u
		case <-time.After(2 * time.Second):
			t.Fatal("no update")
			return platform.RouteUpdate{}
		}
	}
	if u := next(); !u.Resync || len(u.Snapshot) != 5 || len(u.Changes) != 1 || u.Changes[0].Kind != routing.ChangeResync {
		t.Fatalf("first update %+v, want the snapshot and one resync change", u)
	}
	r := routing.Route{Dst: pfx("10.9.0.0/16"), Interface: "eth0"}
	sys.Add(r)
	u := next()
	if len(u.Changes) != 1 || u.Changes[0].Kind != routing.ChangeAdded || u.Changes[0].Route.Dst != r.Dst || u.Changes[0].Route.IfIndex == 0 {
		t.Fatalf("add update %+v", u)
	}
	if err := sys.Delete(u.Changes[0].Route); err != nil {
		t.Fatal(err)
	}
	if u := next(); len(u.Changes) != 1 || u.Changes[0].Kind != routing.ChangeDeleted {
		t.Fatalf("delete update %+v", u)
	}
	sys.Resync()
	if u := next(); !u.Resync || len(u.Changes) != 1 || u.Changes[0].Kind != routing.ChangeResync {
		t.Fatalf("resync update %+v", u)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch returned %v", err)
	}
}

// Every route is in the state file before it is added: a crash between the
// two leaves nothing unrecorded.
func TestStateWrittenBeforeEachRoute(t *testing.T) {
	sys := lan(t)
	dir := t.TempDir()
	checked := 0
	sys.FailAdd = func(r routing.Route) error {
		data, err := os.ReadFile(platform.StatePath(dir, platform.DefaultID))
		if err != nil {
			return err
		}
		var st platform.State
		if err := json.Unmarshal(data, &st); err != nil {
			return err
		}
		if len(st.Routes) == 0 || !reflect.DeepEqual(st.Routes[len(st.Routes)-1].Dst, r.Dst) || st.TUN != "cvpn0" || st.PID != os.Getpid() {
			t.Errorf("state before adding %s: %+v", platform.RouteString(r), st)
		}
		checked++
		return nil
	}
	a, err := (&platform.Configurator{Sys: sys, StateDir: dir}).Apply(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if checked != 12 {
		t.Errorf("checked %d adds, want 12", checked)
	}
}
