package platform_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

// TestRefreshServerRoutesAfterMove: a full tunnel pins a host route to the
// server through the LAN's gateway; the machine then moves to another
// network (Wi-Fi on wlan0, another gateway). The refresh moves the host
// route to the new gateway, records it, and Close removes exactly it.
func TestRefreshServerRoutesAfterMove(t *testing.T) {
	sys := lan(t)
	dir := t.TempDir()
	cfg := fullConfig()
	cfg.Servers = cfg.Servers[:1] // 203.0.113.5
	cfg.NetGatewayRoutes = nil
	cfg.RedirectIPv6 = false
	a, err := (&platform.Configurator{Sys: sys, StateDir: dir}).Apply(cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := func() []string {
		var out []string
		for _, r := range sys.Routes() {
			if r.Dst == pfx("203.0.113.5/32") {
				out = append(out, platform.RouteString(r))
			}
		}
		return out
	}
	if h := host(); len(h) != 1 || !strings.Contains(h[0], "via 192.168.1.1") {
		t.Fatalf("server host route after Apply: %v", h)
	}
	if n, err := a.RefreshServerRoutes(); err != nil || n != 0 {
		t.Fatalf("refresh on the same network moved %d routes: %v", n, err)
	}

	// The move: the LAN's default routes go, Wi-Fi's comes.
	for _, r := range sys.Routes() {
		if r.Dst.Bits() == 0 && r.Dst.Addr().Is4() {
			if err := sys.Delete(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n, err := a.RefreshServerRoutes(); err == nil || n != 0 {
		t.Fatalf("refresh without a default gateway moved %d routes, err %v; want an error and no change", n, err)
	}
	sys.AddInterface("wlan0", pfx("10.77.0.20/24"))
	if err := sys.Add(routing.Route{Dst: pfx("0.0.0.0/0"), Gateway: addr("10.77.0.1"), Interface: "wlan0", Metric: 600, Protocol: 16}); err != nil {
		t.Fatal(err)
	}
	n, err := a.RefreshServerRoutes()
	if err != nil || n != 1 {
		t.Fatalf("refresh after the move moved %d routes: %v", n, err)
	}
	if h := host(); len(h) != 1 || !strings.Contains(h[0], "via 10.77.0.1") || !strings.Contains(h[0], "wlan0") {
		t.Fatalf("server host route after the move: %v", h)
	}
	st, err := os.ReadFile(platform.StatePath(dir, platform.DefaultID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "10.77.0.1") || strings.Contains(string(st), "192.168.1.1") {
		t.Errorf("state file does not record the moved route:\n%s", st)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(sys.Routes(), func(r routing.Route) bool { return r.Dst == pfx("203.0.113.5/32") }) {
		t.Errorf("Close left the moved server route: %v", routeStrings(sys.Routes()))
	}
}
