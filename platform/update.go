package platform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cvpn/cvpn/routing"
)

// UpdateRoutes replaces the routes through the tunnel's interface with the
// tunnel routes cfg describes (its Routes, RedirectIPv4/IPv6 and Metric;
// the other fields are ignored), for a live session whose server changed
// them (OpenVPN 2.7 PUSH_UPDATE). Bypass and net_gateway routes stay. A new
// route is recorded in the state file before it is added and a removed one
// is forgotten after it is deleted, so a crash leaves nothing behind.
func (a *Applied) UpdateRoutes(cfg TunnelConfig) (added, removed []routing.Route, err error) {
	want := cfg.tunnelRoutes(a.Name, a.IfIndex)
	same := func(x, y routing.Route) bool {
		return x.Dst == y.Dst && x.Gateway == y.Gateway && x.Metric == y.Metric && x.IfIndex == y.IfIndex
	}
	ours := func(r routing.Route) bool { return r.IfIndex == a.IfIndex && r.Interface == a.Name }
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
		if err != nil {
			a.state.Routes = a.state.Routes[:len(a.state.Routes)-1]
			return added, removed, errors.Join(fmt.Errorf("platform: add route %s: %w", RouteString(r), err), a.save())
		}
		added = append(added, r)
		log.Info("route added by update", "route", RouteString(r))
	}
	var keep []routing.Route
	for _, r := range a.state.Routes {
		if !ours(r) || slices.ContainsFunc(want, func(w routing.Route) bool { return same(w, r) }) {
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
	a.state.Routes = keep
	return added, removed, a.save()
}
