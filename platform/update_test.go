package platform_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform"
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
