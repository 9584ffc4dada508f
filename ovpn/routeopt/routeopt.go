package routeopt

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/internal/netmask"
)

// Argument counts and usage lines of the two options.
const (
	MinArgs4  = 1
	MaxArgs4  = 4
	Usage4    = "route NETWORK [NETMASK] [GATEWAY|vpn_gateway|net_gateway] [METRIC]"
	MinArgs6  = 1
	MaxArgs6  = 3
	Usage6    = "route-ipv6 NETWORK/BITS [GATEWAY|net_gateway] [METRIC]"
	maxMetric = 1 << 30
)

// GatewayKind says where a route points.
type GatewayKind int

const (
	// VPNGateway routes into the tunnel (the default).
	VPNGateway GatewayKind = iota
	// NetGateway routes outside the tunnel through the pre-VPN default
	// gateway ("net_gateway"); such routes bypass route enforcement.
	NetGateway
	// RemoteHost is OpenVPN's "remote_host": the server's address via the
	// pre-VPN gateway.
	RemoteHost
	// ExplicitGateway routes through Route.Gateway.
	ExplicitGateway
)

// String returns the OpenVPN keyword ("vpn_gateway", "net_gateway",
// "remote_host") or "address" for an explicit gateway.
func (k GatewayKind) String() string {
	switch k {
	case NetGateway:
		return "net_gateway"
	case RemoteHost:
		return "remote_host"
	case ExplicitGateway:
		return "address"
	}
	return "vpn_gateway"
}

// MarshalText encodes the kind as its String form.
func (k GatewayKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes the String form.
func (k *GatewayKind) UnmarshalText(b []byte) error {
	for _, c := range []GatewayKind{VPNGateway, NetGateway, RemoteHost, ExplicitGateway} {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown gateway kind %q", b)
}

// Route is a "route" or "route-ipv6" option.
type Route struct {
	Dst         netip.Prefix `json:"destination"`
	GatewayKind GatewayKind  `json:"gateway_kind"`
	// Gateway is set for ExplicitGateway.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// Metric is the route metric; HasMetric is false when none was given.
	Metric    int  `json:"metric,omitempty"`
	HasMetric bool `json:"-"`
	// Line is the profile line of the option (0 for pushed routes).
	Line int `json:"-"`
}

// String formats the route like "10.0.0.0/8 via net_gateway metric 5".
func (r Route) String() string {
	s := r.Dst.String() + " via "
	if r.GatewayKind == ExplicitGateway {
		s += r.Gateway.String()
	} else {
		s += r.GatewayKind.String()
	}
	if r.HasMetric {
		s += " metric " + strconv.Itoa(r.Metric)
	}
	return s
}

// Error is a route option that does not parse. Its message names the
// option and says how to write it.
type Error struct {
	Msg string
	// HostBits is set when the network has host bits set for its prefix
	// length; the Route returned with it holds the masked network.
	HostBits bool
}

func (e *Error) Error() string { return e.Msg }

func errorf(format string, a ...any) *Error { return &Error{Msg: fmt.Sprintf(format, a...)} }

func parseIPv4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

func metric(name, s string) (int, *Error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxMetric {
		return 0, errorf("%s metric %s: expected a whole number from %d to %d", name, s, 0, maxMetric)
	}
	return n, nil
}

// Parse parses the arguments of "route NETWORK [NETMASK] [GATEWAY]
// [METRIC]" (MinArgs4 to MaxArgs4 of them). A failure is an *Error.
func Parse(a []string) (Route, error) {
	var r Route
	if len(a) < MinArgs4 || len(a) > MaxArgs4 {
		return r, errorf("route: expects %d to %d arguments, got %d; usage: %s", MinArgs4, MaxArgs4, len(a), Usage4)
	}
	net, ok := parseIPv4(a[0])
	if !ok {
		if strings.Contains(a[0], "/") {
			return r, errorf("route %s: route takes NETWORK NETMASK, not CIDR: write route %s", a[0], cidrHint(a[0]))
		}
		return r, errorf("route %s: the network must be an IPv4 address (host names are not resolved in routes)", a[0])
	}
	bits := 32
	if len(a) >= 2 && a[1] != "default" {
		m, ok := parseIPv4(a[1])
		if !ok {
			return r, errorf("route %s %s: the netmask is not an IPv4 address (for example 255.255.0.0)", a[0], a[1])
		}
		if bits, ok = netmask.Bits(m); !ok {
			return r, errorf("route %s %s: the netmask is not contiguous; masks look like 255.255.255.0", a[0], a[1])
		}
	}
	pfx := netip.PrefixFrom(net, bits)
	if pfx.Masked().Addr() != net {
		return r, errorf("route %s %s: the network has host bits set for this netmask; did you mean route %s %s?", a[0], a[1], pfx.Masked().Addr(), a[1])
	}
	r.Dst = pfx
	if len(a) >= 3 {
		switch a[2] {
		case "default", "vpn_gateway":
			r.GatewayKind = VPNGateway
		case "net_gateway":
			r.GatewayKind = NetGateway
		case "remote_host":
			r.GatewayKind = RemoteHost
		default:
			gw, ok := parseIPv4(a[2])
			if !ok {
				return r, errorf("route %s: gateway %q must be an IPv4 address, vpn_gateway or net_gateway", a[0], a[2])
			}
			r.GatewayKind, r.Gateway = ExplicitGateway, gw
		}
	}
	if len(a) == 4 && a[3] != "default" {
		m, err := metric("route", a[3])
		if err != nil {
			return r, err
		}
		r.Metric, r.HasMetric = m, true
	}
	return r, nil
}

// cidrHint turns "10.0.0.0/8" into "10.0.0.0 255.0.0.0" when possible.
func cidrHint(s string) string {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return "NETWORK NETMASK"
	}
	m := uint32(0xffffffff) << (32 - p.Bits())
	if p.Bits() == 0 {
		m = 0
	}
	mask := netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
	return p.Masked().Addr().String() + " " + mask.String()
}

// ParsePrefix6 parses an IPv6 network in CIDR form; a bare address is a
// /128. IPv4-mapped addresses and zones are refused.
func ParsePrefix6(s string) (netip.Prefix, bool) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, 128), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, false
	}
	return p, true
}

// ParseIPv6 parses the arguments of "route-ipv6 NETWORK/BITS [GATEWAY]
// [METRIC]" (MinArgs6 to MaxArgs6 of them). A failure is an *Error; when
// it has HostBits set the returned Route holds the masked network (and
// nothing else: parse again with it to check the rest).
func ParseIPv6(a []string) (Route, error) {
	var r Route
	if len(a) < MinArgs6 || len(a) > MaxArgs6 {
		return r, errorf("route-ipv6: expects %d to %d arguments, got %d; usage: %s", MinArgs6, MaxArgs6, len(a), Usage6)
	}
	pfx, ok := ParsePrefix6(a[0])
	if !ok {
		return r, errorf("route-ipv6 %s: not an IPv6 network in CIDR form (for example 2000::/3)", a[0])
	}
	if pfx.Masked() != pfx {
		r.Dst = pfx.Masked()
		e := errorf("route-ipv6 %s: the network has host bits set; did you mean %s?", a[0], pfx.Masked())
		e.HostBits = true
		return r, e
	}
	r.Dst = pfx
	if len(a) >= 2 {
		switch a[1] {
		case "default", "vpn_gateway":
		case "net_gateway":
			r.GatewayKind = NetGateway
		default:
			gw, err := netip.ParseAddr(a[1])
			if err != nil || !gw.Is6() || gw.Is4In6() {
				return r, errorf("route-ipv6 %s: gateway %q must be an IPv6 address, vpn_gateway or net_gateway", a[0], a[1])
			}
			r.GatewayKind, r.Gateway = ExplicitGateway, gw
		}
	}
	if len(a) == 3 && a[2] != "default" {
		m, err := metric("route-ipv6", a[2])
		if err != nil {
			return r, err
		}
		r.Metric, r.HasMetric = m, true
	}
	return r, nil
}
