package session

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/platformtest"
	"github.com/cvpn/cvpn/routing"
)

var (
	lanGW  = netip.MustParseAddr("192.168.1.1")
	lanGW6 = netip.MustParseAddr("fd00:1::1")
	server = netip.MustParseAddr("203.0.113.7")
)

// lab is a fake system with a LAN interface eth0 and a tunnel tun0.
type lab struct {
	sys    *platformtest.System
	eth0   int
	tun0   int
	info   client.TunnelInfo
	events *eventLog
	dir    string
}

type eventLog struct {
	mu sync.Mutex
	ev []clientapi.Event
}

func (l *eventLog) add(e clientapi.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

// actions returns "action route" for every route-enforced event.
func (l *eventLog) actions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		if e.Event == clientapi.EventRouteEnforced {
			out = append(out, e.Action+" "+e.Route)
		}
	}
	return out
}

func (l *eventLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		if e.Event == clientapi.EventError {
			out = append(out, e.Message)
		}
	}
	return out
}

func newLab(t *testing.T) *lab {
	t.Helper()
	sys := platformtest.New()
	l := &lab{sys: sys, events: &eventLog{}, dir: t.TempDir()}
	l.eth0 = sys.AddInterface("eth0", netip.MustParsePrefix("192.168.1.10/24"), netip.MustParsePrefix("fd00:1::10/64"))
	l.tun0 = sys.AddInterface("tun0", netip.MustParsePrefix("10.8.0.2/24"))
	l.mustAdd(t, lanRoute("0.0.0.0/0", lanGW))
	l.info = client.TunnelInfo{
		Interface: "tun0", IfIndex: l.tun0, Server: server, EnforceRoutes: true,
		Config: platform.TunnelConfig{
			ID: "lab",
			Routes: []platform.TunnelRoute{
				{Dst: netip.MustParsePrefix("172.31.0.0/16")},
				{Dst: netip.MustParsePrefix("fd31::/32")},
			},
			NetGatewayRoutes: []netip.Prefix{netip.MustParsePrefix("172.31.200.0/24")},
			Servers:          []netip.Addr{server},
		},
	}
	return l
}

func lanRoute(dst string, gw netip.Addr) routing.Route {
	return routing.Route{Dst: netip.MustParsePrefix(dst), Gateway: gw, Interface: "eth0",
		Table: routing.MainTable, Protocol: 4, Type: routing.TypeUnicast, Metric: 100}
}

func (l *lab) mustAdd(t *testing.T, r routing.Route) {
	t.Helper()
	if err := l.sys.Add(r); err != nil {
		t.Fatalf("add %s: %v", r, err)
	}
}

// route returns the table's (normalised) eth0 route to dst.
func (l *lab) route(t *testing.T, dst string) routing.Route {
	t.Helper()
	p := netip.MustParsePrefix(dst)
	for _, r := range l.sys.Routes() {
		if r.Dst == p && r.Interface == "eth0" {
			return r
		}
	}
	t.Fatalf("no route to %s", dst)
	return routing.Route{}
}

func (l *lab) has(dst string) bool {
	p := netip.MustParsePrefix(dst)
	return slices.ContainsFunc(l.sys.Routes(), func(r routing.Route) bool { return r.Dst == p && r.Interface == "eth0" })
}

func (l *lab) start(force bool) func() {
	return StartEnforcement(l.info, EnforcerConfig{
		Routes: l.sys, JournalPath: JournalPath(l.dir, "lab"), AdminForce: force, Events: l.events.add,
	})
}

// waitGone waits (bounded) until no eth0 route to dst is left.
func (l *lab) waitGone(t *testing.T, dst string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.has(dst) {
		if time.Now().After(deadline) {
			t.Fatalf("route %s still in the table after 5s: %v", dst, l.sys.Routes())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEnforcementRemovesAndRestores(t *testing.T) {
	l := newLab(t)
	before := l.sys.Routes()
	conflict := lanRoute("172.31.1.0/24", lanGW)
	l.mustAdd(t, conflict)
	keep := []routing.Route{
		lanRoute("10.0.0.0/8", lanGW),            // outside the VPN
		lanRoute("172.0.0.0/8", lanGW),           // less specific than the VPN route
		lanRoute("172.31.200.0/25", lanGW),       // inside the net_gateway exemption
		lanRoute("203.0.113.7/32", lanGW),        // the server's host route
		lanRoute("169.254.0.0/16", netip.Addr{}), // ignored network
	}
	for _, r := range keep {
		l.mustAdd(t, r)
	}
	withAll := l.sys.Routes()

	stop := l.start(false)
	if l.has("172.31.1.0/24") {
		t.Fatal("a conflict present at connect time is still there after StartEnforcement returned")
	}
	for _, r := range keep {
		if !l.has(r.Dst.String()) {
			t.Errorf("route %s was removed but does not conflict", r)
		}
	}

	// Conflicts appearing later, IPv4 and IPv6, are removed too.
	l.mustAdd(t, lanRoute("172.31.5.128/25", lanGW))
	l.mustAdd(t, lanRoute("fd31:0:5::/48", lanGW6))
	l.waitGone(t, "172.31.5.128/25")
	l.waitGone(t, "fd31:0:5::/48")
	// Re-added after removal (DHCP): removed again, journaled once.
	l.mustAdd(t, conflict)
	l.waitGone(t, "172.31.1.0/24")
	j, err := routing.OpenJournal(JournalPath(l.dir, "lab"))
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 3 {
		t.Errorf("journal holds %d entries, want 3: %+v", j.Len(), j.Entries())
	}

	stop()
	stop() // idempotent
	got := l.sys.Routes()
	for _, r := range withAll {
		if !slices.ContainsFunc(got, r.Equal) {
			t.Errorf("route %s not restored", r)
		}
	}
	if len(got) != len(withAll)+2 {
		t.Errorf("table after stop has %d routes, want %d (the original %d plus two late conflicts): %v", len(got), len(withAll)+2, len(before), got)
	}
	if _, err := os.Stat(JournalPath(l.dir, "lab")); !os.IsNotExist(err) {
		t.Errorf("journal still on disk after a full restore: %v", err)
	}
	acts := l.events.actions()
	want := map[string]int{
		"removed 172.31.1.0/24 via 192.168.1.1 dev eth0":    2,
		"restored 172.31.1.0/24 via 192.168.1.1 dev eth0":   1,
		"removed 172.31.5.128/25 via 192.168.1.1 dev eth0":  1,
		"restored 172.31.5.128/25 via 192.168.1.1 dev eth0": 1,
		"removed fd31:0:5::/48 via fd00:1::1 dev eth0":      1,
		"restored fd31:0:5::/48 via fd00:1::1 dev eth0":     1,
	}
	count := map[string]int{}
	for _, a := range acts {
		// Drop the attributes after the device (metric, proto...).
		f := strings.Fields(a)
		count[strings.Join(f[:6], " ")]++
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d events %q, want %d; all: %q", count[k], k, n, acts)
		}
	}
	if e := l.events.errors(); len(e) > 0 {
		t.Errorf("error events: %q", e)
	}
}

func TestEnforcementOffWithoutSwitch(t *testing.T) {
	l := newLab(t)
	l.info.EnforceRoutes = false
	l.mustAdd(t, lanRoute("172.31.1.0/24", lanGW))
	stop := l.start(false)
	l.mustAdd(t, lanRoute("172.31.2.0/24", lanGW))
	time.Sleep(50 * time.Millisecond)
	stop()
	if !l.has("172.31.1.0/24") || !l.has("172.31.2.0/24") {
		t.Errorf("enforcement off but conflicting routes went away: %v", l.sys.Routes())
	}
	if a := l.events.actions(); len(a) != 0 {
		t.Errorf("events with enforcement off: %q", a)
	}
}

func TestEnforcementAdminForce(t *testing.T) {
	l := newLab(t)
	l.info.EnforceRoutes = false
	l.mustAdd(t, lanRoute("172.31.1.0/24", lanGW))
	stop := l.start(true)
	if l.has("172.31.1.0/24") {
		t.Error("admin force did not turn enforcement on")
	}
	stop()
	if !l.has("172.31.1.0/24") {
		t.Error("route not restored")
	}
}

func TestEnforcementFullTunnel(t *testing.T) {
	l := newLab(t)
	l.info.Config.Routes = nil
	l.info.Config.RedirectIPv4 = true
	l.info.Config.RedirectIPv6 = true
	l.mustAdd(t, lanRoute("203.0.113.7/32", lanGW)) // bypass host route
	stop := l.start(false)
	defer stop()
	// The LAN's connected routes lie inside 0/1 (IPv4) and fc00::/7 (IPv6).
	for _, dst := range []string{"192.168.1.0/24", "fd00:1::/64"} {
		if l.has(dst) {
			t.Errorf("LAN route %s not removed in full tunnel", dst)
		}
	}
	for _, dst := range []string{"0.0.0.0/0", "203.0.113.7/32"} {
		if !l.has(dst) {
			t.Errorf("route %s removed in full tunnel", dst)
		}
	}
}

func TestRecoverRoutesAfterCrash(t *testing.T) {
	l := newLab(t)
	l.mustAdd(t, lanRoute("172.31.1.0/24", lanGW))
	conflict := l.route(t, "172.31.1.0/24")
	// A run that dies without stopping: the journal stays.
	e, err := routing.NewEnforcer(routing.Config{
		Policy: mustPolicy(t, l.info), Table: l.sys, JournalPath: JournalPath(l.dir, "lab"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.has("172.31.1.0/24") {
		t.Fatal("not removed")
	}
	// A running session (it holds the journal's lock) keeps its journal.
	unlock, held, err := tryLock(lockPath(JournalPath(l.dir, "lab")))
	if err != nil || held {
		t.Fatalf("tryLock = %v, %v", held, err)
	}
	if _, held2, _ := tryLock(lockPath(JournalPath(l.dir, "lab"))); !held2 {
		t.Fatal("a second lock on the same journal was granted")
	}
	n, err := RecoverRoutes(context.Background(), l.dir, l.sys, nil)
	if err != nil || n != 0 || l.has("172.31.1.0/24") {
		t.Fatalf("journal of a running session: restored %d, err %v", n, err)
	}
	// Once that session is gone, the route comes back.
	unlock()
	n, err = RecoverRoutes(context.Background(), l.dir, l.sys, nil)
	if err != nil || n != 1 {
		t.Fatalf("RecoverRoutes = %d, %v; want 1, nil", n, err)
	}
	if !slices.ContainsFunc(l.sys.Routes(), conflict.Equal) {
		t.Fatal("route not restored byte for byte")
	}
	if hasJournals(l.dir) {
		t.Error("journal left after a full recovery")
	}
	// Nothing left: a second recovery is a no-op.
	if n, err := RecoverRoutes(context.Background(), l.dir, l.sys, nil); n != 0 || err != nil {
		t.Errorf("second RecoverRoutes = %d, %v", n, err)
	}
}

func TestRecoverWithRunsRoutesFirst(t *testing.T) {
	l := newLab(t)
	l.mustAdd(t, lanRoute("172.31.1.0/24", lanGW))
	conflict := l.route(t, "172.31.1.0/24")
	e, err := routing.NewEnforcer(routing.Config{
		Policy: mustPolicy(t, l.info), Table: l.sys, JournalPath: JournalPath(l.dir, "other"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := recoverWith(context.Background(), l.dir, l.sys, discard()); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(l.sys.Routes(), conflict.Equal) {
		t.Fatal("session recovery did not restore the journaled route")
	}
}

func TestEnforcementInput(t *testing.T) {
	l := newLab(t)
	l.info.Config.RedirectIPv4 = true
	in := EnforcementInput(l.info, true)
	if !in.EndpointEnforces || !in.AdminForce || !in.RedirectIPv4 || in.RedirectIPv6 {
		t.Errorf("flags: %+v", in)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("172.31.0.0/16"), netip.MustParsePrefix("fd31::/32")}; !slices.Equal(in.VPNRoutes, want) {
		t.Errorf("VPNRoutes = %v, want %v", in.VPNRoutes, want)
	}
	if !slices.Equal(in.NetGatewayRoutes, l.info.Config.NetGatewayRoutes) {
		t.Errorf("NetGatewayRoutes = %v", in.NetGatewayRoutes)
	}
	if !slices.Contains(in.ServerAddrs, server) {
		t.Errorf("ServerAddrs = %v", in.ServerAddrs)
	}
	if in.Tunnel != (routing.Tunnel{Name: "tun0", Index: l.tun0}) {
		t.Errorf("Tunnel = %+v", in.Tunnel)
	}
}

func TestEnforcementNoRoutesReportsError(t *testing.T) {
	l := newLab(t)
	l.info.Config.Routes = nil
	l.mustAdd(t, lanRoute("172.31.1.0/24", lanGW))
	stop := l.start(false)
	stop()
	errs := l.events.errors()
	if len(errs) != 1 || !strings.Contains(errs[0], "no routes to protect") {
		t.Errorf("error events = %q, want one about no routes", errs)
	}
	if !l.has("172.31.1.0/24") {
		t.Error("a route was removed although enforcement could not start")
	}
}

func TestJournalPath(t *testing.T) {
	if got, want := JournalPath("/s", ""), filepath.Join("/s", "routes-tunnel.json"); got != want {
		t.Errorf("JournalPath(/s, \"\") = %s, want %s", got, want)
	}
	if got, want := JournalPath("/s", "a1"), filepath.Join("/s", "routes-a1.json"); got != want {
		t.Errorf("JournalPath(/s, a1) = %s, want %s", got, want)
	}
}

func mustPolicy(t *testing.T, info client.TunnelInfo) routing.Policy {
	t.Helper()
	p, err := routing.NewPolicy(EnforcementInput(info, false))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// In the daemon several sessions share one process: a session starting
// (and recovering) must not restore the routes a running one removed.
func TestRecoverLeavesRunningSessionAlone(t *testing.T) {
	l := newLab(t)
	l.mustAdd(t, lanRoute("172.31.1.0/24", lanGW))
	stop := l.start(false)
	if err := recoverWith(context.Background(), l.dir, l.sys, discard()); err != nil {
		t.Fatal(err)
	}
	if l.has("172.31.1.0/24") {
		t.Error("recovery restored a route of a running session")
	}
	if !hasJournals(l.dir) {
		t.Error("recovery dropped the journal of a running session")
	}
	stop()
	if !l.has("172.31.1.0/24") {
		t.Error("route not restored at stop")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
