package client

import (
	"net/netip"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/platform"
)

// TunnelInfo describes a configured tunnel to OnTunnelUp.
type TunnelInfo struct {
	Interface string
	IfIndex   int
	// Config is what was applied: addresses, routes, redirect flags,
	// net_gateway routes and the server address.
	Config platform.TunnelConfig
	Push   *ctrlmsg.PushOptions
	Server netip.Addr
	// EnforceRoutes is the endpoint's client-route-enforcement switch.
	EnforceRoutes bool
}
