package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/cvpn/cvpn/routing"
)

// InterfaceUpdater is implemented by Systems that can change a live
// tunnel interface (OpenVPN 2.7 PUSH_UPDATE of tun-mtu, ifconfig and
// ifconfig-ipv6). Linux does it through netlink, macOS through ioctls on
// the utun interface, Windows through the IP Helper API.
type InterfaceUpdater interface {
	// SetMTU changes the interface's MTU.
	SetMTU(name string, mtu int) error
	// ReplaceAddresses removes the addresses of old that are not in new
	// and adds those of new that are not in old.
	ReplaceAddresses(name string, old, new []Address) error
}

// ErrNotLive: the system cannot make this change on a live tunnel.
var ErrNotLive = errors.New("cannot be changed on a live tunnel on this system")

// UpdateResult says what Update changed.
type UpdateResult struct {
	Added, Removed []routing.Route
	MTU            bool // the interface's MTU changed
	Addresses      bool // the interface's addresses changed
	DNS            bool // DNS was re-applied (or reverted, when cfg.DNS is nil)
}

// Update brings a live tunnel to cfg (OpenVPN 2.7 PUSH_UPDATE): MTU and
// addresses of the interface, the routes (tunnel routes, host routes to the
// servers that a new tunnel route covers, net_gateway routes) and DNS.
// cfg.ID, Name and Prepared are ignored. Each change is recorded in the
// state file as Apply records it, so Close and Recover undo exactly what
// is there; DNS keeps the original settings saved at Apply (a resolv.conf
// that another program rewrote since becomes the new original).
func (a *Applied) Update(cfg TunnelConfig) (UpdateResult, error) {
	var res UpdateResult
	cfg.ID, cfg.Name, cfg.Prepared = a.state.ID, a.Name, nil
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	cfg = cfg.withDefaults()
	iu, canUpdate := a.c.Sys.(InterfaceUpdater)
	if cfg.MTU != a.mtu {
		if !canUpdate {
			return res, fmt.Errorf("platform: MTU of %s: %w", a.Name, ErrNotLive)
		}
		if err := iu.SetMTU(a.Name, cfg.MTU); err != nil {
			return res, fmt.Errorf("platform: MTU %d on %s: %w", cfg.MTU, a.Name, err)
		}
		a.c.logger().Info("tunnel MTU changed by update", "interface", a.Name, "from", a.mtu, "to", cfg.MTU)
		a.mtu, res.MTU = cfg.MTU, true
	}
	if !slices.Equal(cfg.Addresses, a.addrs) {
		if !canUpdate {
			return res, fmt.Errorf("platform: addresses of %s: %w", a.Name, ErrNotLive)
		}
		if err := iu.ReplaceAddresses(a.Name, a.addrs, cfg.Addresses); err != nil {
			return res, fmt.Errorf("platform: addresses of %s: %w", a.Name, err)
		}
		a.c.logger().Info("tunnel addresses changed by update", "interface", a.Name, "addresses", len(cfg.Addresses))
		a.addrs, res.Addresses = slices.Clone(cfg.Addresses), true
		// The OS may have dropped the routes through the interface with
		// its old addresses (Linux does when the last IPv4 one goes).
		for _, r := range a.state.Routes {
			if r.Interface != a.Name && r.IfIndex != a.IfIndex {
				continue
			}
			if err := a.c.Sys.Add(r); err != nil && !errors.Is(err, ErrExists) {
				return res, fmt.Errorf("platform: route %s after the address change: %w", RouteString(r), err)
			}
		}
	}
	var err error
	res.Added, res.Removed, err = a.UpdateRoutes(cfg)
	if err != nil {
		return res, err
	}
	res.DNS, err = a.updateDNS(cfg.DNS)
	return res, err
}

// UpdateRoutes replaces the routes of the tunnel with those cfg describes
// (its Routes, RedirectIPv4/IPv6, Metric, Servers and NetGatewayRoutes;
// the other fields are ignored), for a live session whose server changed
// them (OpenVPN 2.7 PUSH_UPDATE). A server that a new tunnel route covers
// gets a host route through the gateway it is reached by now (added before
// the tunnel route); a host route no tunnel route needs any longer goes.
// net_gateway routes follow cfg, through the current default gateway. A
// new route is recorded in the state file before it is added and a
// removed one is forgotten after it is deleted, so a crash leaves nothing
// behind.
func (a *Applied) UpdateRoutes(cfg TunnelConfig) (added, removed []routing.Route, err error) {
	same := func(x, y routing.Route) bool {
		return x.Dst == y.Dst && x.Gateway == y.Gateway && x.Metric == y.Metric && x.IfIndex == y.IfIndex
	}
	tunnel := cfg.tunnelRoutes(a.Name, a.IfIndex)
	// A server host route already there stays as it is (it may have
	// followed a network move); a new one is looked up before any change.
	bypass, err := bypassRoutes(cfg.Servers, tunnel, func(s netip.Addr) (Hop, error) {
		for _, r := range a.state.Routes {
			if isServerHostRoute(r, a.Name) && r.Dst.Addr() == s {
				return Hop{Gateway: r.Gateway, Interface: r.Interface, IfIndex: r.IfIndex}, nil
			}
		}
		return a.c.Sys.RouteTo(s)
	})
	if err != nil {
		return nil, nil, err
	}
	netgw, err := a.keptNetGateway(cfg.NetGatewayRoutes)
	if err != nil {
		return nil, nil, err
	}
	want := append(append(bypass, netgw...), tunnel...)
	log := a.c.logger()
	for _, r := range want {
		if slices.ContainsFunc(a.state.Routes, func(o routing.Route) bool { return same(o, r) }) {
			continue
		}
		a.state.Routes = append(a.state.Routes, r)
		if err := a.save(); err != nil {
			return added, removed, err
		}
		err := a.c.Sys.Add(r)
		if errors.Is(err, ErrExists) {
			a.state.Routes = a.state.Routes[:len(a.state.Routes)-1]
			log.Warn("route already present, leaving it as it is", "route", RouteString(r))
			continue
		}
		if err != nil && cfg.optionalRoute(r) {
			a.state.Routes = a.state.Routes[:len(a.state.Routes)-1]
			log.Warn("block-ipv6: cannot route IPv6 into the tunnel; leaving it", "route", RouteString(r), "err", err)
			continue
		}
		if err != nil {
			a.state.Routes = a.state.Routes[:len(a.state.Routes)-1]
			return added, removed, errors.Join(fmt.Errorf("platform: add route %s: %w", RouteString(r), err), a.save())
		}
		added = append(added, r)
		log.Info("route added by update", "route", RouteString(r))
	}
	// Remove in reverse order: tunnel routes before the host routes that
	// keep the server out of them.
	var keep []routing.Route
	for i := len(a.state.Routes) - 1; i >= 0; i-- {
		r := a.state.Routes[i]
		if slices.ContainsFunc(want, func(w routing.Route) bool { return same(w, r) }) {
			keep = append(keep, r)
			continue
		}
		if err := a.c.Sys.Delete(r); err != nil && !errors.Is(err, ErrNotFound) {
			keep = append(keep, r)
			log.Warn("cannot delete route removed by update", "route", RouteString(r), "err", err)
			continue
		}
		removed = append(removed, r)
		log.Info("route removed by update", "route", RouteString(r))
	}
	slices.Reverse(keep)
	a.state.Routes = keep
	return added, removed, a.save()
}

// keptNetGateway returns the net_gateway routes for prefixes: the route
// there is now for a prefix that has one, otherwise one through the
// current default gateway of its family.
func (a *Applied) keptNetGateway(prefixes []netip.Prefix) ([]routing.Route, error) {
	var missing []netip.Prefix
	var have []routing.Route
	for _, p := range prefixes {
		i := slices.IndexFunc(a.state.Routes, func(r routing.Route) bool {
			return r.Dst == p.Masked() && r.Interface != a.Name && !isServerHostRoute(r, a.Name)
		})
		if i >= 0 {
			have = append(have, a.state.Routes[i])
			continue
		}
		missing = append(missing, p)
	}
	add, err := netGatewayRoutes(a.c.Sys, missing)
	if err != nil {
		return nil, err
	}
	return append(have, add...), nil
}
