package platform_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

// UpdateRoutes swaps the tunnel's own routes for the new set and keeps the
// bypass and net_gateway routes; Close then removes exactly what is left.
func TestUpdateRoutes(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	cfg := fullConfig()
	cfg.RedirectIPv4, cfg.RedirectIPv6 = false, false
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Routes = []platform.TunnelRoute{{Dst: pfx("172.31.0.0/16")}, {Dst: pfx("192.0.2.0/24")}}
	added, removed, err := a.UpdateRoutes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(routeStrings(added), ";"); got != "192.0.2.0/24 dev cvpn0 proto 156" {
		t.Errorf("added %s", got)
	}
	if got := strings.Join(routeStrings(removed), ";"); got != "10.200.0.0/16 via 10.8.0.1 dev cvpn0 proto 156 metric 50" {
		t.Errorf("removed %s", got)
	}
	rs := routeStrings(sys.Routes())
	for _, want := range []string{"192.0.2.0/24 dev cvpn0 proto 156", "172.31.0.0/16 dev cvpn0 proto 156", "198.51.100.0/24 via 192.168.1.1 dev eth0 proto 156"} {
		if !slices.Contains(rs, want) {
			t.Errorf("system routes lack %q:\n%s", want, strings.Join(rs, "\n"))
		}
	}
	if slices.Contains(rs, "10.200.0.0/16 via 10.8.0.1 dev cvpn0 proto 156 metric 50") {
		t.Error("removed route still in the system")
	}
	if again, gone, err := a.UpdateRoutes(cfg); err != nil || len(again)+len(gone) != 0 {
		t.Errorf("the same update again changed %d/%d routes (%v)", len(again), len(gone), err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(routeStrings(sys.Routes()), "\n"), strings.Join(routeStrings(before), "\n"); got != want {
		t.Errorf("after Close:\n%s\nwant:\n%s", got, want)
	}
}

// Update follows a PUSH_UPDATE that turns a split tunnel into a full one
// and back: the server's host route comes before the redirect routes and
// goes with them, net_gateway routes follow, MTU, addresses and DNS change
// on the live interface, and Close restores the table.
func TestUpdateFullTunnelMTUAddressesDNS(t *testing.T) {
	sys := lan(t)
	before := sys.Routes()
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	cfg := fullConfig()
	cfg.RedirectIPv4, cfg.RedirectIPv6, cfg.NetGatewayRoutes = false, false, nil
	cfg.Addresses = cfg.Addresses[:1]
	cfg.DNS = &platform.DNSConfig{Servers: []netip.Addr{addr("10.0.0.2")}}
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(a.Routes(), func(r routing.Route) bool { return r.Dst.Addr() == addr("203.0.113.5") }) {
		t.Fatal("a split tunnel not covering the server has a host route to it")
	}
	full := cfg
	full.RedirectIPv4 = true
	full.NetGatewayRoutes = []netip.Prefix{pfx("198.51.100.0/24")}
	full.MTU = 1300
	full.Addresses = []platform.Address{{Prefix: pfx("10.8.0.9/24")}}
	full.DNS = &platform.DNSConfig{Servers: []netip.Addr{addr("10.0.0.53")}, FullTunnel: true}
	res, err := a.Update(full)
	if err != nil {
		t.Fatal(err)
	}
	rs := routeStrings(a.Routes())
	host := slices.Index(rs, "203.0.113.5/32 via 192.168.1.1 dev eth0 proto 156")
	def1 := slices.Index(rs, "0.0.0.0/1 dev cvpn0 proto 156")
	if host < 0 || def1 < 0 || host > def1 || !slices.Contains(rs, "198.51.100.0/24 via 192.168.1.1 dev eth0 proto 156") {
		t.Errorf("routes after going full (want the server's host route before 0.0.0.0/1, and the net_gateway route):\n%s", strings.Join(rs, "\n"))
	}
	if len(res.Added) != 4 || len(res.Removed) != 0 || !res.MTU || !res.Addresses || !res.DNS {
		t.Errorf("result %+v", res)
	}
	ifc, _ := sys.Interface("cvpn0")
	if ifc.MTU != 1300 || len(ifc.Addresses) != 1 || ifc.Addresses[0].Prefix != pfx("10.8.0.9/24") {
		t.Errorf("interface after update: mtu %d addresses %+v", ifc.MTU, ifc.Addresses)
	}
	if d, ok := sys.FakeDNS().Config("cvpn0"); !ok || len(d.Servers) != 1 || d.Servers[0] != addr("10.0.0.53") || !d.FullTunnel {
		t.Errorf("DNS after update: %+v %v", d, ok)
	}
	// Back to split: the redirect, host and net_gateway routes go.
	res, err = a.Update(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 4 || len(res.Added) != 0 {
		t.Errorf("back to split: %d added, %d removed, want 0 and 4", len(res.Added), len(res.Removed))
	}
	if d, _ := sys.FakeDNS().Config("cvpn0"); len(d.Servers) != 1 || d.Servers[0] != addr("10.0.0.2") {
		t.Errorf("DNS back to split: %+v", d)
	}
	// No DNS: the original comes back while the tunnel stays.
	nodns := cfg
	nodns.DNS = nil
	if res, err := a.Update(nodns); err != nil || !res.DNS {
		t.Fatalf("update without DNS: %+v %v", res, err)
	}
	if _, ok := sys.FakeDNS().Config("cvpn0"); ok {
		t.Error("DNS still applied after the update removed it")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(routeStrings(sys.Routes()), "\n"), strings.Join(routeStrings(before), "\n"); got != want {
		t.Errorf("after Close:\n%s\nwant:\n%s", got, want)
	}
}

// A tunnel applied with LeaveDNS never touches DNS, also on update.
func TestUpdateLeaveDNS(t *testing.T) {
	sys := lan(t)
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	cfg := fullConfig()
	cfg.LeaveDNS = true
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cfg.DNS = &platform.DNSConfig{Servers: []netip.Addr{addr("10.0.0.53")}}
	if res, err := a.Update(cfg); err != nil || res.DNS {
		t.Fatalf("update: %+v %v", res, err)
	}
	if _, ok := sys.FakeDNS().Config("cvpn0"); ok {
		t.Error("DNS applied although the tunnel leaves DNS alone")
	}
}

// block-ipv6 routes IPv6 into the tunnel where the system allows it: a
// refused IPv6 route does not fail the tunnel (nothing IPv6 to leak), a
// refused route of redirect-gateway ipv6 does.
func TestBlockIPv6BestEffort(t *testing.T) {
	sys := lan(t)
	sys.FailAdd = func(r routing.Route) error {
		if r.Is6() && r.Interface == "cvpn0" {
			return errors.New("IPv6 is disabled on this device")
		}
		return nil
	}
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	cfg := fullConfig()
	cfg.RedirectIPv6, cfg.BlockIPv6, cfg.NetGatewayRoutes, cfg.Addresses = false, true, nil, cfg.Addresses[:1]
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatalf("block-ipv6 on a system refusing IPv6 routes: %v", err)
	}
	if slices.ContainsFunc(a.Routes(), func(r routing.Route) bool { return r.Is6() && r.Interface == "cvpn0" }) {
		t.Errorf("refused IPv6 routes recorded: %q", routeStrings(a.Routes()))
	}
	cfg.RedirectIPv6 = true
	if _, err := a.Update(cfg); err == nil {
		t.Error("redirect-gateway ipv6 on a system refusing IPv6 routes succeeded")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// A PUSH_UPDATE that only adds or removes block-outside-dns re-applies the
// tunnel's DNS, so the backend (WFP filters on Windows) follows it.
func TestUpdateBlockOutsideDNS(t *testing.T) {
	sys := lan(t)
	c := &platform.Configurator{Sys: sys, StateDir: t.TempDir()}
	cfg := fullConfig()
	cfg.DNS = &platform.DNSConfig{Servers: []netip.Addr{addr("10.0.0.2")}}
	a, err := c.Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, on := range []bool{true, false} {
		up := cfg
		up.DNS = &platform.DNSConfig{Servers: []netip.Addr{addr("10.0.0.2")}, BlockOutsideDNS: on}
		res, err := a.Update(up)
		if err != nil || !res.DNS {
			t.Fatalf("block-outside-dns %v: %+v %v, want the DNS re-applied", on, res, err)
		}
		if d, ok := sys.FakeDNS().Config("cvpn0"); !ok || d.BlockOutsideDNS != on {
			t.Errorf("block-outside-dns %v: the DNS backend has %+v %v", on, d, ok)
		}
	}
}
