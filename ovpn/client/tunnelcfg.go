package client

import (
	"fmt"
	"net/netip"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/platform"
)

// tunnelConfig merges the pushed options with the profile's own routes and
// options into what the platform applies.
func tunnelConfig(p *profile.Profile, po *ctrlmsg.PushOptions, server netip.Addr, id string) (platform.TunnelConfig, error) {
	tc := platform.TunnelConfig{ID: id, MTU: p.TunMTU, Servers: []netip.Addr{server}, Metric: uint32(po.RouteMetric)}
	if po.TunMTU > 0 {
		tc.MTU = po.TunMTU
	}
	var gw4 netip.Addr
	if ic := po.IfConfig; ic != nil {
		local, peer, ok := po.IfConfigPrefix()
		if !ok {
			return tc, fmt.Errorf("pushed ifconfig %s %s is not usable", ic.Local, ic.Second)
		}
		tc.Addresses = append(tc.Addresses, platform.Address{Prefix: local, Peer: peer})
		gw4 = peer
		if po.RouteGateway.IsValid() {
			gw4 = po.RouteGateway
		}
	}
	var gw6 netip.Addr
	v6 := po.IfConfigIPv6
	if v6 == nil && p.IfconfigIPv6 != nil {
		v6 = &ctrlmsg.IfConfigIPv6{Local: p.IfconfigIPv6.Local, Remote: p.IfconfigIPv6.Remote}
	}
	if v6 != nil {
		tc.Addresses = append(tc.Addresses, platform.Address{Prefix: v6.Local})
		gw6 = v6.Remote
	}
	addRoute := func(dst netip.Prefix, gw netip.Addr, metric int) {
		r := platform.TunnelRoute{Dst: dst.Masked()}
		if metric >= 0 {
			r.Metric = uint32(metric)
		}
		_ = gw // routes go straight to the TUN interface; the gateway is informative on a point-to-point link
		tc.Routes = append(tc.Routes, r)
	}
	var netgw []netip.Prefix
	metricOf := func(r profile.Route) int {
		if r.HasMetric {
			return r.Metric
		}
		return -1
	}
	// Pushed routes: only net_gateway leaves the tunnel.
	for _, r := range append(append([]profile.Route(nil), po.Routes...), po.RoutesIPv6...) {
		switch {
		case r.GatewayKind == profile.NetGateway:
			netgw = append(netgw, r.Dst)
		case r.Dst.Addr().Is6():
			addRoute(r.Dst, gw6, metricOf(r))
		default:
			addRoute(r.Dst, gw4, metricOf(r))
		}
	}
	for _, r := range append(append([]profile.Route(nil), p.Routes...), p.RoutesIPv6...) {
		metric := metricOf(r)
		switch r.GatewayKind {
		case profile.NetGateway:
			netgw = append(netgw, r.Dst)
		case profile.RemoteHost:
			// the host route to the server is added by the platform when needed
		default:
			gw := gw4
			if r.Dst.Addr().Is6() {
				gw = gw6
			}
			addRoute(r.Dst, gw, metric)
		}
	}
	tc.NetGatewayRoutes = netgw
	if rg := po.RedirectGateway; rg != nil {
		tc.RedirectIPv4 = !rg.NoIPv4
		tc.RedirectIPv6 = rg.IPv6 && v6 != nil
	}
	tc.BlockIPv6 = po.BlockIPv6
	tc.DNS, _ = dnsConfig(p, po, tc.RedirectIPv4)
	if tc.DNS != nil {
		tc.DNS.BlockOutsideDNS = po.BlockOutsideDNS
	}
	return tc, nil
}
