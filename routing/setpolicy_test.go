package routing

import (
	"context"
	"net/netip"
	"testing"
)

// After the VPN's routes change (PUSH_UPDATE), SetPolicy puts back the
// routes that conflicted only with the old routes and removes those that
// conflict with the new ones; Stop then restores exactly what is left.
func TestSetPolicyFollowsNewRoutes(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if f.has("172.31.1.0/24") || f.has("172.31.5.0/24") {
		t.Fatal("conflicting routes not removed at start")
	}
	if err := f.table.Add(lan("10.50.1.0/24", "192.168.1.1")); err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(PolicyInput{
		EndpointEnforces: true,
		VPNRoutes:        []netip.Prefix{pfx("10.50.0.0/16"), pfx("fd00:31::/32")},
		ServerAddrs:      []netip.Addr{addr("203.0.113.10")},
		Tunnel:           Tunnel{Name: "tun0", Index: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if !f.has("172.31.1.0/24") || !f.has("172.31.5.0/24") {
		t.Error("routes that no longer conflict were not put back")
	}
	if f.has("10.50.1.0/24") || f.has("fd00:31:1::/64") {
		t.Error("routes conflicting with the new VPN routes are still there")
	}
	if n := f.journalLen(t); n != 2 {
		t.Errorf("journal holds %d routes, want 2 (10.50.1.0/24, fd00:31:1::/64)", n)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.has("10.50.1.0/24") || !f.has("fd00:31:1::/64") || f.journalLen(t) != 0 {
		t.Error("Stop did not restore the routes removed under the new policy")
	}
	bad := p
	bad.Tunnel = Tunnel{}
	if err := e.SetPolicy(ctx, bad); err == nil {
		t.Error("a policy without the tunnel interface accepted")
	}
}
