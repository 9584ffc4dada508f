package platform

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/cvpn/cvpn/routing"
)

// tunnelRoutes returns the routes through the tunnel interface.
func (cfg *TunnelConfig) tunnelRoutes(name string, ifindex int) []routing.Route {
	var out []routing.Route
	seen := map[netip.Prefix]bool{}
	add := func(dst netip.Prefix, gw netip.Addr, metric uint32) {
		dst = dst.Masked()
		if seen[dst] {
			return
		}
		seen[dst] = true
		if metric == 0 {
			metric = cfg.Metric
		}
		r := routing.Route{
			Dst: dst, Gateway: gw, Interface: name, IfIndex: ifindex, Metric: metric,
			Table: routing.MainTable, Protocol: ProtoCVPN, Type: TypeUnicast, Scope: ScopeUniverse,
		}
		if !gw.IsValid() && !dst.Addr().Is6() {
			r.Scope = ScopeLink
		}
		out = append(out, r)
	}
	if cfg.RedirectIPv4 {
		for _, p := range redirect4 {
			add(p, netip.Addr{}, 0)
		}
	}
	if cfg.RedirectIPv6 || cfg.BlockIPv6 {
		for _, p := range redirect6 {
			add(p, netip.Addr{}, 0)
		}
	}
	for _, r := range cfg.Routes {
		add(r.Dst, r.Gateway.Unmap(), r.Metric)
	}
	return out
}

// optionalRoute reports whether r is one block-ipv6 adds without a
// redirect-gateway ipv6: its failure is logged, not fatal.
func (cfg *TunnelConfig) optionalRoute(r routing.Route) bool {
	return cfg.BlockIPv6 && !cfg.RedirectIPv6 && slices.Contains(redirect6, r.Dst)
}

// hopRoute is a route to dst through hop.
func hopRoute(dst netip.Prefix, hop Hop) routing.Route {
	r := routing.Route{
		Dst: dst.Masked(), Gateway: hop.Gateway, Interface: hop.Interface, IfIndex: hop.IfIndex,
		Table: routing.MainTable, Protocol: ProtoCVPN, Type: TypeUnicast, Scope: ScopeUniverse,
	}
	if !hop.Gateway.IsValid() && !dst.Addr().Is6() {
		r.Scope = ScopeLink
	}
	return r
}

// bypassRoutes returns host routes for servers that a tunnel route would
// capture, through the hop each is reached by now. lookup is RouteTo.
func bypassRoutes(servers []netip.Addr, tunnel []routing.Route, lookup func(netip.Addr) (Hop, error)) ([]routing.Route, error) {
	var out []routing.Route
	seen := map[netip.Addr]bool{}
	for _, s := range servers {
		s = s.Unmap()
		if seen[s] {
			continue
		}
		seen[s] = true
		covered := false
		for _, r := range tunnel {
			if r.Dst.Contains(s) {
				covered = true
				break
			}
		}
		if !covered {
			continue
		}
		hop, err := lookup(s)
		if err != nil {
			return nil, fmt.Errorf("platform: route to server %s: %w", s, err)
		}
		if hop.Local {
			// An address of this machine never leaves through a route.
			continue
		}
		// Also for an on-link server: a pushed route more specific than
		// the connected route (a /32 or /25 covering the server) would
		// otherwise send the tunnel's own packets into the tunnel.
		out = append(out, hopRoute(netip.PrefixFrom(s, s.BitLen()), hop))
	}
	return out, nil
}

// DefaultGateway returns the default route of the family with the lowest
// metric in the main table of r.
func DefaultGateway(r Routes, f Family) (Hop, error) {
	routes, err := r.List()
	if err != nil {
		return Hop{}, err
	}
	var best *routing.Route
	for i := range routes {
		rt := &routes[i]
		if !f.Matches(*rt) || rt.Dst.Bits() != 0 || (rt.Type != 0 && rt.Type != TypeUnicast) {
			continue
		}
		if !rt.Gateway.IsValid() && rt.Interface == "" && rt.IfIndex == 0 && len(rt.Hops) == 0 {
			continue
		}
		if best == nil || rt.Metric < best.Metric {
			best = rt
		}
	}
	if best == nil {
		return Hop{}, fmt.Errorf("platform: no %s default gateway: %w", f, ErrNotFound)
	}
	hop := Hop{Gateway: best.Gateway, Interface: best.Interface, IfIndex: best.IfIndex, Src: best.Src}
	if len(best.Hops) > 0 && !hop.Gateway.IsValid() {
		hop.Gateway, hop.Interface, hop.IfIndex = best.Hops[0].Gateway, best.Hops[0].Interface, best.Hops[0].IfIndex
	}
	return hop, nil
}

// netGatewayRoutes returns the net_gateway routes through the original
// default gateway of their family.
func netGatewayRoutes(r Routes, prefixes []netip.Prefix) ([]routing.Route, error) {
	var out []routing.Route
	hops := map[Family]Hop{}
	for _, p := range prefixes {
		f := FamilyV4
		if p.Addr().Is6() {
			f = FamilyV6
		}
		hop, ok := hops[f]
		if !ok {
			var err error
			hop, err = DefaultGateway(r, f)
			if err != nil {
				return nil, fmt.Errorf("platform: net_gateway route %s: %w", p, err)
			}
			hops[f] = hop
		}
		out = append(out, hopRoute(p, hop))
	}
	return out, nil
}

// RouteString formats a route like `ip route` does, for logs and errors.
func RouteString(r routing.Route) string {
	s := r.Dst.String()
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	if r.Interface != "" {
		s += " dev " + r.Interface
	} else if r.IfIndex != 0 {
		s += fmt.Sprintf(" ifindex %d", r.IfIndex)
	}
	for _, h := range r.Hops {
		s += " nexthop"
		if h.Gateway.IsValid() {
			s += " via " + h.Gateway.String()
		}
		if h.Interface != "" {
			s += " dev " + h.Interface
		}
	}
	if r.Table != 0 && r.Table != routing.MainTable {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	if r.Protocol != 0 {
		s += fmt.Sprintf(" proto %d", r.Protocol)
	}
	if r.Metric != 0 {
		s += fmt.Sprintf(" metric %d", r.Metric)
	}
	return s
}
