package ctrlmsg

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/internal/netmask"
)

// Topologies.
const (
	TopologyNet30  = "net30"
	TopologyP2P    = "p2p"
	TopologySubnet = "subnet"
)

// Route gateway keywords OpenVPN accepts in place of an address.
const (
	GatewayVPN     = "vpn_gateway"
	GatewayNet     = "net_gateway"
	GatewayRemote  = "remote_host"
	GatewayDefault = "" // use route-gateway / the VPN gateway
)

// Route is a pushed "route NET MASK [GW] [METRIC]" or
// "route-ipv6 NET/BITS [GW] [METRIC]".
type Route struct {
	Network netip.Prefix
	// Gateway is set when an address was given.
	Gateway netip.Addr
	// GatewayKeyword is vpn_gateway, net_gateway or remote_host when given.
	GatewayKeyword string
	// Metric is -1 when not given.
	Metric int
}

// IfConfig is "ifconfig LOCAL NETMASK|REMOTE": the second address is a
// netmask with topology subnet and the peer address with net30/p2p.
type IfConfig struct {
	Local  netip.Addr
	Second netip.Addr
}

// IfConfigIPv6 is "ifconfig-ipv6 ADDR/BITS [REMOTE]".
type IfConfigIPv6 struct {
	Local  netip.Prefix
	Remote netip.Addr
}

// RedirectGateway holds the redirect-gateway flags.
type RedirectGateway struct {
	Def1, Local, AutoLocal, BypassDHCP, BypassDNS, BlockLocal, IPv6 bool
	// NoIPv4 is "!ipv4": do not redirect IPv4.
	NoIPv4 bool
}

// ProtocolFlags are the pushed protocol-flags.
type ProtocolFlags struct {
	CCExit, TLSEKM, DynTLSCrypt bool
}

// Inactive is "inactive SECONDS [BYTES]".
type Inactive struct {
	Seconds int
	Bytes   int64
}

// PushOptions is a typed PUSH_REPLY. Pointer and zero values mean "not
// pushed"; numeric fields use -1 for "not pushed" where 0 is meaningful.
type PushOptions struct {
	IfConfig         *IfConfig
	IfConfigIPv6     *IfConfigIPv6
	Topology         string // "" = not pushed (OpenVPN's default is net30)
	Routes           []Route
	RoutesIPv6       []Route
	RouteGateway     netip.Addr
	RouteGatewayDHCP bool
	RedirectGateway  *RedirectGateway
	// DNS holds dhcp-option DNS and DNS6 servers in order.
	DNS                 []netip.Addr
	Domain              string
	DomainSearch        []string
	DomainRoute         []string
	AdapterDomainSuffix string
	// DHCPOther keeps other dhcp-option lines (WINS, NTP, ...) verbatim.
	DHCPOther          []string
	Ping               int // seconds, -1 = not pushed
	PingRestart        int // seconds, -1 = not pushed
	PeerID             int // -1 = not pushed
	Cipher             string
	KeyDerivationEKM   bool
	ProtocolFlags      ProtocolFlags
	TunMTU             int // 0 = not pushed
	AuthToken          string
	AuthTokenUser      string // decoded from base64
	ExplicitExitNotify int    // -1 = not pushed
	Inactive           *Inactive
	BlockIPv6          bool
	// Echo holds the words of each echo option joined by single spaces.
	Echo []string
	// Ignored lists options we do not act on (unknown or not relevant),
	// verbatim, for logging.
	Ignored []string
}

// NewPushOptions returns an empty PushOptions with the "not pushed" markers set.
func NewPushOptions() *PushOptions {
	return &PushOptions{Ping: -1, PingRestart: -1, PeerID: -1, ExplicitExitNotify: -1}
}

// OptionError names the option that failed validation. It never includes
// the value of auth-token options.
type OptionError struct {
	Option string // the option text (or its name for secret options)
	Err    string
}

func (e *OptionError) Error() string { return fmt.Sprintf("pushed option %q: %s", e.Option, e.Err) }

// ParsePushOptions interprets pushed options. Unknown options go to
// Ignored. Invalid values of known options are reported together (each
// error names its option); the returned PushOptions holds everything that
// was valid, so the caller can decide.
func ParsePushOptions(options []string) (*PushOptions, error) {
	p := NewPushOptions()
	var errs []error
	for _, o := range options {
		if err := p.apply(o); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.checkIfConfig(); err != nil {
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

func bad(opt, format string, args ...any) error {
	return &OptionError{Option: opt, Err: fmt.Sprintf(format, args...)}
}

func parseV4(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Is4()
}

func atoiRange(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}

func (p *PushOptions) apply(opt string) error {
	w, err := Fields(opt)
	if err != nil {
		return bad(opt, "%v", err)
	}
	if len(w) == 0 {
		return nil
	}
	name, args := w[0], w[1:]
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return bad(opt, "want %d argument(s), got %d", lo, len(args))
			}
			return bad(opt, "want %d to %d arguments, got %d", lo, hi, len(args))
		}
		return nil
	}
	secs := func(dst *int) error {
		if err := nargs(1, 1); err != nil {
			return err
		}
		n, ok := atoiRange(args[0], 0, 1<<30)
		if !ok {
			return bad(opt, "%q is not a number of seconds", args[0])
		}
		*dst = n
		return nil
	}
	switch name {
	case "ifconfig":
		if err := nargs(2, 2); err != nil {
			return err
		}
		l, ok1 := parseV4(args[0])
		s, ok2 := parseV4(args[1])
		if !ok1 || !ok2 {
			return bad(opt, "want two IPv4 addresses")
		}
		p.IfConfig = &IfConfig{Local: l, Second: s}
	case "ifconfig-ipv6":
		if err := nargs(1, 2); err != nil {
			return err
		}
		pfx, err := netip.ParsePrefix(args[0])
		if err != nil || !pfx.Addr().Is6() {
			return bad(opt, "%q is not an IPv6 address/bits", args[0])
		}
		c := &IfConfigIPv6{Local: pfx}
		if len(args) == 2 {
			r, err := netip.ParseAddr(args[1])
			if err != nil || !r.Is6() {
				return bad(opt, "%q is not an IPv6 address", args[1])
			}
			c.Remote = r
		}
		p.IfConfigIPv6 = c
	case "topology":
		if err := nargs(1, 1); err != nil {
			return err
		}
		switch args[0] {
		case TopologyNet30, TopologyP2P, TopologySubnet:
			p.Topology = args[0]
		default:
			return bad(opt, "unknown topology %q (want net30, p2p or subnet)", args[0])
		}
	case "route":
		r, err := parseRoute4(opt, args)
		if err != nil {
			return err
		}
		p.Routes = append(p.Routes, r)
	case "route-ipv6":
		r, err := parseRoute6(opt, args)
		if err != nil {
			return err
		}
		p.RoutesIPv6 = append(p.RoutesIPv6, r)
	case "route-gateway":
		if err := nargs(1, 1); err != nil {
			return err
		}
		if args[0] == "dhcp" {
			p.RouteGatewayDHCP = true
			return nil
		}
		a, ok := parseV4(args[0])
		if !ok {
			return bad(opt, "%q is not an IPv4 address or \"dhcp\"", args[0])
		}
		p.RouteGateway = a
	case "redirect-gateway", "redirect-private":
		rg := p.RedirectGateway
		if rg == nil {
			rg = &RedirectGateway{}
		}
		for _, f := range args {
			switch f {
			case "def1":
				rg.Def1 = true
			case "local":
				rg.Local = true
			case "autolocal":
				rg.AutoLocal = true
			case "bypass-dhcp":
				rg.BypassDHCP = true
			case "bypass-dns":
				rg.BypassDNS = true
			case "block-local":
				rg.BlockLocal = true
			case "ipv6":
				rg.IPv6 = true
			case "!ipv4":
				rg.NoIPv4 = true
			default:
				return bad(opt, "unknown flag %q", f)
			}
		}
		if name == "redirect-private" {
			p.Ignored = append(p.Ignored, opt)
			return nil
		}
		p.RedirectGateway = rg
	case "dhcp-option":
		if len(args) < 1 {
			return bad(opt, "missing type")
		}
		return p.applyDHCP(opt, args)
	case "ping":
		return secs(&p.Ping)
	case "ping-restart":
		return secs(&p.PingRestart)
	case "peer-id":
		if err := nargs(1, 1); err != nil {
			return err
		}
		n, ok := atoiRange(args[0], 0, 0xFFFFFE)
		if !ok {
			return bad(opt, "%q is not a peer id (0..16777214)", args[0])
		}
		p.PeerID = n
	case "cipher":
		if err := nargs(1, 1); err != nil {
			return err
		}
		p.Cipher = args[0]
	case "key-derivation":
		if err := nargs(1, 1); err != nil {
			return err
		}
		if args[0] != "tls-ekm" {
			return bad(opt, "unknown key derivation %q (want tls-ekm)", args[0])
		}
		p.KeyDerivationEKM = true
	case "protocol-flags":
		for _, f := range args {
			switch f {
			case "cc-exit":
				p.ProtocolFlags.CCExit = true
			case "tls-ekm":
				p.ProtocolFlags.TLSEKM = true
			case "dyn-tls-crypt":
				p.ProtocolFlags.DynTLSCrypt = true
			default:
				p.Ignored = append(p.Ignored, "protocol-flags "+f)
			}
		}
	case "tun-mtu":
		if err := nargs(1, 1); err != nil {
			return err
		}
		n, ok := atoiRange(args[0], 100, 65535)
		if !ok {
			return bad(opt, "%q is not an MTU between 100 and 65535", args[0])
		}
		p.TunMTU = n
	case "auth-token":
		if len(args) != 1 || args[0] == "" {
			return bad("auth-token", "want exactly one token")
		}
		p.AuthToken = args[0]
	case "auth-token-user":
		if len(args) != 1 {
			return bad("auth-token-user", "want exactly one base64 username")
		}
		u, err := base64.StdEncoding.DecodeString(args[0])
		if err != nil {
			return bad("auth-token-user", "username is not valid base64")
		}
		p.AuthTokenUser = string(u)
	case "explicit-exit-notify":
		if err := nargs(0, 1); err != nil {
			return err
		}
		p.ExplicitExitNotify = 1
		if len(args) == 1 {
			n, ok := atoiRange(args[0], 0, 1000)
			if !ok {
				return bad(opt, "%q is not a retry count", args[0])
			}
			p.ExplicitExitNotify = n
		}
	case "inactive":
		if err := nargs(1, 2); err != nil {
			return err
		}
		n, ok := atoiRange(args[0], 0, 1<<30)
		if !ok {
			return bad(opt, "%q is not a number of seconds", args[0])
		}
		in := &Inactive{Seconds: n}
		if len(args) == 2 {
			b, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || b < 0 {
				return bad(opt, "%q is not a byte count", args[1])
			}
			in.Bytes = b
		}
		p.Inactive = in
	case "block-ipv6":
		if err := nargs(0, 0); err != nil {
			return err
		}
		p.BlockIPv6 = true
	case "echo":
		p.Echo = append(p.Echo, strings.Join(args, " "))
	default:
		p.Ignored = append(p.Ignored, opt)
	}
	return nil
}

func (p *PushOptions) applyDHCP(opt string, args []string) error {
	typ := args[0]
	val := args[1:]
	one := func() (string, error) {
		if len(val) != 1 || val[0] == "" {
			return "", bad(opt, "want one value after %s", typ)
		}
		return val[0], nil
	}
	switch typ {
	case "DNS", "DNS6":
		v, err := one()
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(v)
		if err != nil || (typ == "DNS6" && !a.Is6()) || a.Zone() != "" {
			return bad(opt, "%q is not a valid %s server address", v, typ)
		}
		p.DNS = append(p.DNS, a)
	case "DOMAIN":
		v, err := one()
		if err != nil {
			return err
		}
		if !validDomain(v) {
			return bad(opt, "%q is not a domain name", v)
		}
		p.Domain = v
	case "DOMAIN-SEARCH", "DOMAIN-ROUTE":
		v, err := one()
		if err != nil {
			return err
		}
		if !validDomain(v) && v != "." {
			return bad(opt, "%q is not a domain name", v)
		}
		if typ == "DOMAIN-SEARCH" {
			p.DomainSearch = append(p.DomainSearch, v)
		} else {
			p.DomainRoute = append(p.DomainRoute, v)
		}
	case "ADAPTER_DOMAIN_SUFFIX":
		v, err := one()
		if err != nil {
			return err
		}
		if !validDomain(v) {
			return bad(opt, "%q is not a domain name", v)
		}
		p.AdapterDomainSuffix = v
	default:
		p.DHCPOther = append(p.DHCPOther, opt)
	}
	return nil
}

func validDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func parseGatewayMetric(opt string, r *Route, args []string, v6 bool) error {
	if len(args) > 0 {
		switch g := args[0]; g {
		case GatewayVPN, GatewayNet, GatewayRemote:
			r.GatewayKeyword = g
		case "default":
		default:
			a, err := netip.ParseAddr(g)
			if err != nil || a.Is6() != v6 || a.Zone() != "" {
				return bad(opt, "gateway %q is not an address or vpn_gateway/net_gateway/remote_host", g)
			}
			r.Gateway = a
		}
	}
	if len(args) > 1 && args[1] != "default" {
		n, ok := atoiRange(args[1], 0, 1<<31-1)
		if !ok {
			return bad(opt, "metric %q is not a non-negative number", args[1])
		}
		r.Metric = n
	}
	return nil
}

func parseRoute4(opt string, args []string) (Route, error) {
	r := Route{Metric: -1}
	if len(args) < 1 || len(args) > 4 {
		return r, bad(opt, "want NETWORK [NETMASK] [GATEWAY] [METRIC]")
	}
	n, ok := parseV4(args[0])
	if !ok {
		return r, bad(opt, "network %q is not an IPv4 address", args[0])
	}
	bits := 32
	if len(args) > 1 && args[1] != "default" {
		m, ok := parseV4(args[1])
		b, contiguous := netmask.Bits(m)
		if !ok || !contiguous {
			return r, bad(opt, "netmask %q is not a valid IPv4 netmask", args[1])
		}
		bits = b
	}
	pfx := netip.PrefixFrom(n, bits)
	if pfx.Masked() != pfx {
		return r, bad(opt, "network %s has host bits set for netmask /%d", n, bits)
	}
	r.Network = pfx
	if len(args) > 2 {
		if err := parseGatewayMetric(opt, &r, args[2:], false); err != nil {
			return r, err
		}
	}
	return r, nil
}

func parseRoute6(opt string, args []string) (Route, error) {
	r := Route{Metric: -1}
	if len(args) < 1 || len(args) > 3 {
		return r, bad(opt, "want NETWORK/BITS [GATEWAY] [METRIC]")
	}
	pfx, err := netip.ParsePrefix(args[0])
	if err != nil || !pfx.Addr().Is6() {
		return r, bad(opt, "network %q is not an IPv6 prefix", args[0])
	}
	r.Network = pfx.Masked()
	if err := parseGatewayMetric(opt, &r, args[1:], true); err != nil {
		return r, err
	}
	return r, nil
}

// checkIfConfig validates ifconfig against the topology once both are known.
func (p *PushOptions) checkIfConfig() error {
	if p.IfConfig == nil {
		return nil
	}
	opt := "ifconfig " + p.IfConfig.Local.String() + " " + p.IfConfig.Second.String()
	if p.Topology == TopologySubnet {
		if _, ok := netmask.Bits(p.IfConfig.Second); !ok || !p.IfConfig.Second.Is4() {
			return bad(opt, "with topology subnet the second argument must be a netmask")
		}
		if bits, _ := netmask.Bits(p.IfConfig.Second); bits == 0 || bits > 30 {
			return bad(opt, "netmask /%d leaves no room for a subnet", bits)
		}
		return nil
	}
	if p.IfConfig.Local == p.IfConfig.Second {
		return bad(opt, "local and remote addresses are equal")
	}
	return nil
}

// IfConfigPrefix returns the tunnel address as a prefix and, for net30/p2p,
// the peer address. With topology subnet the prefix uses the pushed
// netmask; otherwise it is a /32 and peer is the remote end.
func (p *PushOptions) IfConfigPrefix() (local netip.Prefix, peer netip.Addr, ok bool) {
	if p.IfConfig == nil {
		return netip.Prefix{}, netip.Addr{}, false
	}
	if p.Topology == TopologySubnet {
		bits, good := netmask.Bits(p.IfConfig.Second)
		if !good || !p.IfConfig.Second.Is4() {
			return netip.Prefix{}, netip.Addr{}, false
		}
		return netip.PrefixFrom(p.IfConfig.Local, bits), netip.Addr{}, true
	}
	return netip.PrefixFrom(p.IfConfig.Local, 32), p.IfConfig.Second, true
}

// UsesEKM reports whether data keys come from the TLS exporter.
func (p *PushOptions) UsesEKM() bool { return p.KeyDerivationEKM || p.ProtocolFlags.TLSEKM }
