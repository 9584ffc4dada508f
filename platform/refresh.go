package platform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cvpn/cvpn/routing"
)

// RefreshServerRoutes re-points the tunnel's host routes to the VPN
// servers after the machine moved to another network: a host route that
// still goes through the old network's gateway (or interface) is replaced
// by one through the current default gateway of its family. The state file
// records the new route before it is added, so Close and Recover remove
// exactly what is there. It returns how many routes it moved; with no
// default gateway (the network is down) it moves none and says so.
func (a *Applied) RefreshServerRoutes() (int, error) {
	c := a.c
	moved := 0
	for i := 0; i < len(a.state.Routes); i++ {
		r := a.state.Routes[i]
		if !isServerHostRoute(r, a.Name) {
			continue
		}
		f := FamilyV4
		if r.Dst.Addr().Is6() {
			f = FamilyV6
		}
		hop, err := DefaultGateway(c.Sys, f)
		if err != nil {
			return moved, fmt.Errorf("platform: host route to server %s: %w", r.Dst.Addr(), err)
		}
		if hop.Interface == a.Name || hop.IfIndex != 0 && hop.IfIndex == a.IfIndex {
			continue // the default route of the tunnel itself: nothing better
		}
		nr := hopRoute(r.Dst, hop)
		if nr.Gateway == r.Gateway && (nr.IfIndex == r.IfIndex || nr.Interface == r.Interface) {
			continue
		}
		if err := c.Sys.Delete(r); err != nil && !errors.Is(err, ErrNotFound) {
			return moved, fmt.Errorf("platform: delete route %s: %w", RouteString(r), err)
		}
		a.state.Routes[i] = nr
		if err := a.save(); err != nil {
			return moved, err
		}
		if err := c.Sys.Add(nr); err != nil && !errors.Is(err, ErrExists) {
			a.state.Routes = slices.Delete(a.state.Routes, i, i+1)
			return moved, errors.Join(fmt.Errorf("platform: add route %s: %w", RouteString(nr), err), a.save())
		}
		c.logger().Info("server route moved to the new network", "from", RouteString(r), "to", RouteString(nr))
		moved++
	}
	return moved, nil
}

// isServerHostRoute reports whether r is one of the bypass host routes
// Apply adds for the servers (not through the tunnel device tun).
func isServerHostRoute(r routing.Route, tun string) bool {
	return r.Dst.IsSingleIP() && r.Interface != tun && r.Protocol == ProtoCVPN
}
