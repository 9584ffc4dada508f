package daemon

import (
	"fmt"
	"net/netip"

	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/routing"
)

// plan is what is known of a connection's footprint on the routing table.
type plan struct {
	// Routes are the prefixes routed into the tunnel: the profile's before
	// connecting, the applied ones after.
	Routes []netip.Prefix
	// Servers are the server addresses known (literal remotes before
	// connecting, the server in use after).
	Servers []netip.Addr
	// FullTunnel: all traffic goes through this tunnel.
	FullTunnel bool
}

// fullTunnelRoutes stand for "everything" in overlap checks.
var fullTunnelRoutes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// profilePlan is the footprint a profile announces before connecting.
func profilePlan(p *profile.Profile) plan {
	var pl plan
	for _, r := range append(append([]profile.Route(nil), p.Routes...), p.RoutesIPv6...) {
		if r.GatewayKind == profile.NetGateway || !r.Dst.IsValid() {
			continue
		}
		pl.Routes = append(pl.Routes, r.Dst.Masked())
	}
	for _, r := range p.Remotes {
		if a, err := netip.ParseAddr(r.Host); err == nil {
			pl.Servers = append(pl.Servers, a.Unmap())
		}
	}
	return pl
}

func (pl plan) routes() []netip.Prefix {
	if pl.FullTunnel {
		return fullTunnelRoutes
	}
	return pl.Routes
}

// conflict explains why a connection with footprint a cannot be open at
// the same time as connection other with footprint b; nil when it can.
func conflict(a plan, other string, b plan) error {
	if b.FullTunnel {
		return fmt.Errorf("connection %s is a full-tunnel session (all traffic goes through it); disconnect it first", other)
	}
	if a.FullTunnel {
		return fmt.Errorf("this is a full-tunnel session (all traffic would go through it) and connection %s is open; disconnect it first", other)
	}
	for _, ra := range a.routes() {
		for _, rb := range b.routes() {
			if routing.PrefixOverlaps(ra, rb) {
				return fmt.Errorf("route %s overlaps route %s of connection %s", ra, rb, other)
			}
		}
		for _, s := range b.Servers {
			if ra.Contains(s) {
				return fmt.Errorf("route %s covers server %s of connection %s", ra, s, other)
			}
		}
	}
	for _, rb := range b.routes() {
		for _, s := range a.Servers {
			if rb.Contains(s) {
				return fmt.Errorf("server %s is inside route %s of connection %s", s, rb, other)
			}
		}
	}
	return nil
}
