package routing

import (
	"errors"
	"fmt"
	"net/netip"
)

// RedirectGatewayIPv4 are the two halves "redirect-gateway def1" routes
// through the tunnel for IPv4: together they cover everything and each is
// more specific than the LAN default route.
func RedirectGatewayIPv4() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/1"),
		netip.MustParsePrefix("128.0.0.0/1"),
	}
}

// RedirectGatewayIPv6 are the prefixes OpenVPN 2.6 routes through the tunnel
// for "redirect-gateway ipv6": ::/3, 2000::/4, 3000::/4 and fc00::/7, which
// cover global unicast and unique local space without replacing the LAN
// default route.
func RedirectGatewayIPv6() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("::/3"),
		netip.MustParsePrefix("2000::/4"),
		netip.MustParsePrefix("3000::/4"),
		netip.MustParsePrefix("fc00::/7"),
	}
}

// PolicyInput are the simple facts a session knows once it is configured,
// from which NewPolicy builds the enforcement Policy.
type PolicyInput struct {
	// EndpointEnforces is the endpoint's switch: the server asked the client
	// to enforce its routes.
	EndpointEnforces bool
	// AdminForce turns enforcement on whatever the endpoint says (an admin
	// policy for servers that cannot send the switch).
	AdminForce bool
	// VPNRoutes are the pushed routes and the profile's route / route-ipv6
	// entries whose gateway is the VPN (not net_gateway).
	VPNRoutes []netip.Prefix
	// RedirectIPv4 and RedirectIPv6 add the redirect-gateway halves
	// (RedirectGatewayIPv4, RedirectGatewayIPv6) to the VPN routes.
	RedirectIPv4, RedirectIPv6 bool
	// NetGatewayRoutes are the profile's route / route-ipv6 entries with
	// the net_gateway keyword: they bypass the VPN and are exempt.
	NetGatewayRoutes []netip.Prefix
	// ServerAddrs are the VPN server's addresses; their host routes are
	// exempt.
	ServerAddrs []netip.Addr
	// Tunnel identifies the VPN interface.
	Tunnel Tunnel
}

// Policy is what the enforcement engine needs: whether it is on, the VPN
// prefixes to protect, the exempt prefixes and the tunnel interface.
type Policy struct {
	Enabled bool
	VPN     Set
	// Exempt holds the net_gateway prefixes and the server host prefixes.
	Exempt Set
	// Ignored holds IgnoredNetworks.
	Ignored Set
	Tunnel  Tunnel
}

// NewPolicy builds a Policy from in. Enforcement is enabled when the endpoint
// asks for it or the admin forces it; it then needs a tunnel interface and
// at least one VPN route.
func NewPolicy(in PolicyInput) (Policy, error) {
	var vpn []netip.Prefix
	for i, p := range in.VPNRoutes {
		if !p.IsValid() {
			return Policy{}, fmt.Errorf("routing: policy: VPN route %d is not a valid prefix", i+1)
		}
		vpn = append(vpn, p)
	}
	if in.RedirectIPv4 {
		vpn = append(vpn, RedirectGatewayIPv4()...)
	}
	if in.RedirectIPv6 {
		vpn = append(vpn, RedirectGatewayIPv6()...)
	}
	var exempt []netip.Prefix
	for i, p := range in.NetGatewayRoutes {
		if !p.IsValid() {
			return Policy{}, fmt.Errorf("routing: policy: net_gateway route %d is not a valid prefix", i+1)
		}
		exempt = append(exempt, p)
	}
	for i, a := range in.ServerAddrs {
		if !a.IsValid() {
			return Policy{}, fmt.Errorf("routing: policy: server address %d is not valid", i+1)
		}
		exempt = append(exempt, HostPrefix(a))
	}
	p := Policy{
		Enabled: in.EndpointEnforces || in.AdminForce,
		VPN:     NewSet(vpn...),
		Exempt:  NewSet(exempt...),
		Ignored: NewSet(IgnoredNetworks()...),
		Tunnel:  in.Tunnel,
	}
	if p.Enabled {
		if in.Tunnel.IsZero() {
			return Policy{}, errors.New("routing: policy: enforcement is on but the tunnel interface is unknown (no name or index)")
		}
		if p.VPN.Len() == 0 {
			return Policy{}, errors.New("routing: policy: enforcement is on but the VPN has no routes to protect")
		}
	}
	return p, nil
}

// Conflict reports whether route r conflicts with the VPN and, if so, the
// most specific VPN prefix it lies inside. Enabled is not consulted: the
// rule is the same whether or not enforcement is on.
//
// r conflicts when all of these hold: it is in the main table; it forwards
// traffic (not a local, broadcast, anycast or multicast entry); it does not
// go through the tunnel; its destination is equal to or more specific than
// a VPN prefix; and its destination lies neither inside an exempt prefix nor
// inside an ignored network.
func (p Policy) Conflict(r Route) (netip.Prefix, bool) { return p.conflict(&r) }

func (p *Policy) conflict(r *Route) (netip.Prefix, bool) {
	if !r.Dst.IsValid() || !(r.Table == 0 || r.Table == MainTable) || !forwards(r.Type) || p.Tunnel.carries(r) {
		return netip.Prefix{}, false
	}
	vpn, ok := p.VPN.Covering(r.Dst)
	if !ok {
		return netip.Prefix{}, false
	}
	if p.Exempt.Covers(r.Dst) || p.Ignored.Covers(r.Dst) {
		return netip.Prefix{}, false
	}
	return vpn, true
}

// Conflicting is a route that conflicts with the VPN and the VPN prefix it
// lies inside.
type Conflicting struct {
	Route Route
	VPN   netip.Prefix
}

// Conflicts returns the routes of table that conflict with the VPN, in the
// order they should be removed: routes without a gateway (on-link) first,
// then routes with one, each group in table order. Restoring in the same
// order brings back on-link routes before the routes whose gateway they
// make reachable.
func (p Policy) Conflicts(table []Route) []Conflicting {
	type hit struct {
		i   int
		vpn netip.Prefix
	}
	var hits []hit
	direct := 0
	for i := range table {
		if vpn, ok := p.conflict(&table[i]); ok {
			hits = append(hits, hit{i, vpn})
			if !hasGateway(&table[i]) {
				direct++
			}
		}
	}
	out := make([]Conflicting, len(hits))
	d, g := 0, direct
	for _, h := range hits {
		r := &table[h.i]
		if hasGateway(r) {
			out[g] = Conflicting{Route: r.Clone(), VPN: h.vpn}
			g++
		} else {
			out[d] = Conflicting{Route: r.Clone(), VPN: h.vpn}
			d++
		}
	}
	return out
}

func hasGateway(r *Route) bool {
	if r.Gateway.IsValid() {
		return true
	}
	for _, h := range r.Hops {
		if h.Gateway.IsValid() {
			return true
		}
	}
	return false
}

// Conflicts returns the routes of table that conflict with the VPN prefixes
// vpn, given the exempt prefixes (net_gateway routes, server host routes)
// and the tunnel interface. Ignored networks are always exempt. The result
// is in removal order (see Policy.Conflicts).
func Conflicts(vpn, exempt []netip.Prefix, table []Route, tunnel Tunnel) []Route {
	p := Policy{
		Enabled: true,
		VPN:     NewSet(vpn...),
		Exempt:  NewSet(exempt...),
		Ignored: NewSet(IgnoredNetworks()...),
		Tunnel:  tunnel,
	}
	cs := p.Conflicts(table)
	out := make([]Route, len(cs))
	for i, c := range cs {
		out[i] = c.Route
	}
	return out
}
