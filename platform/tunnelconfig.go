package platform

import (
	"fmt"
	"net/netip"
)

// Defaults of TunnelConfig.
const (
	DefaultTUNName = "cvpn%d"
	DefaultMTU     = 1500
	DefaultID      = "tunnel"
)

// TunnelConfig is everything the session negotiated that changes the OS.
type TunnelConfig struct {
	// ID names the state file (letters, digits, '-', '_', '.'); one per
	// simultaneous tunnel. Default "tunnel".
	ID string
	// Name is the TUN interface name, or a pattern ending in "%d" for the
	// first free number. Default "cvpn%d".
	Name string
	// MTU of the TUN interface (tun-mtu). Default 1500.
	MTU int
	// Addresses of the TUN interface (ifconfig, ifconfig-ipv6).
	Addresses []Address
	// Routes go through the tunnel (route, route-ipv6).
	Routes []TunnelRoute
	// RedirectIPv4 and RedirectIPv6 send all traffic through the tunnel
	// (redirect-gateway def1 [ipv6]). IPv4 uses 0.0.0.0/1 and 128.0.0.0/1,
	// IPv6 ::/3, 2000::/4, 3000::/4 and fc00::/7 like OpenVPN, so the
	// original default routes are never touched.
	RedirectIPv4 bool
	RedirectIPv6 bool
	// BlockIPv6 (block-ipv6) routes IPv6 into the tunnel with
	// RedirectIPv6's routes, where a server that gave no IPv6 address
	// drops it, instead of letting it leak. Best effort: a system that
	// refuses IPv6 routes on the device has no IPv6 to leak there.
	BlockIPv6 bool
	// Servers are the VPN server addresses the transport uses. When a tunnel
	// route covers one of them, a host route through the gateway the server
	// is reached by now is added, so the tunnel never loops.
	Servers []netip.Addr
	// NetGatewayRoutes go through the original default gateway
	// (route ... net_gateway).
	NetGatewayRoutes []netip.Prefix
	// Metric of tunnel routes without their own; 0 for the OS default.
	Metric uint32
	// DNS, nil to leave DNS alone.
	DNS *DNSConfig
	// LeaveDNS keeps DNS untouched for the tunnel's life: Apply ignores
	// DNS and so does Applied.Update (cvpn connect --no-dns).
	LeaveDNS bool
	// Prepared, when set, is the TUN device Prepare created for this
	// tunnel; Apply takes it over instead of creating one.
	Prepared *Prepared
}

// TunnelRoute is a route through the tunnel.
type TunnelRoute struct {
	Dst netip.Prefix
	// Gateway is optional (route-gateway in topology subnet); the zero Addr
	// routes straight to the interface.
	Gateway netip.Addr
	Metric  uint32
}

// redirectRoutes are the destinations of redirect-gateway def1.
var (
	redirect4 = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}
	redirect6 = []netip.Prefix{
		netip.MustParsePrefix("::/3"), netip.MustParsePrefix("2000::/4"),
		netip.MustParsePrefix("3000::/4"), netip.MustParsePrefix("fc00::/7"),
	}
)

func (cfg *TunnelConfig) withDefaults() TunnelConfig {
	out := *cfg
	if out.ID == "" {
		out.ID = DefaultID
	}
	if out.Name == "" {
		out.Name = DefaultTUNName
	}
	if out.MTU == 0 {
		out.MTU = DefaultMTU
	}
	return out
}

// Validate checks the configuration and names the first wrong field.
func (cfg *TunnelConfig) Validate() error {
	c := cfg.withDefaults()
	if !validID(c.ID) {
		return fmt.Errorf("platform: tunnel config: ID %q: use letters, digits, '-', '_', '.'", c.ID)
	}
	if len(c.Name) > 15 {
		return fmt.Errorf("platform: tunnel config: Name %q: longer than 15 characters", c.Name)
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("platform: tunnel config: MTU %d: want 576..65535", c.MTU)
	}
	for i, a := range c.Addresses {
		if !a.Prefix.IsValid() {
			return fmt.Errorf("platform: tunnel config: Addresses[%d]: invalid prefix", i)
		}
		if a.Peer.IsValid() && a.Peer.Is4() != a.Prefix.Addr().Is4() {
			return fmt.Errorf("platform: tunnel config: Addresses[%d]: peer %s and address %s differ in family", i, a.Peer, a.Prefix)
		}
	}
	for i, r := range c.Routes {
		if !r.Dst.IsValid() {
			return fmt.Errorf("platform: tunnel config: Routes[%d]: invalid destination", i)
		}
		if r.Gateway.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() {
			return fmt.Errorf("platform: tunnel config: Routes[%d]: gateway %s and destination %s differ in family", i, r.Gateway, r.Dst)
		}
	}
	for i, p := range c.NetGatewayRoutes {
		if !p.IsValid() {
			return fmt.Errorf("platform: tunnel config: NetGatewayRoutes[%d]: invalid destination", i)
		}
	}
	for i, s := range c.Servers {
		if !s.IsValid() {
			return fmt.Errorf("platform: tunnel config: Servers[%d]: invalid address", i)
		}
	}
	if c.DNS != nil {
		for i, s := range c.DNS.Servers {
			if !s.IsValid() {
				return fmt.Errorf("platform: tunnel config: DNS.Servers[%d]: invalid address", i)
			}
		}
	}
	return nil
}
