package ctrlmsg

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/ovpn/dnsopt"
	"github.com/cvpn/cvpn/ovpn/routeopt"
)

// pushOption is how PushOptions.apply handles one pushed option: its
// argument counts (max -1: any count, apply checks) and what it sets.
// Adding a pushed option is one entry in pushTable.
type pushOption struct {
	min, max int
	apply    func(p *PushOptions, opt string, args []string) error
}

// pushTable lists the pushed options cvpn understands.
var pushTable = map[string]pushOption{
	"ifconfig":             {2, 2, applyIfConfig},
	"ifconfig-ipv6":        {1, 2, applyIfConfigIPv6},
	"topology":             {1, 1, applyTopology},
	"route":                {0, -1, applyRoute},
	"route-ipv6":           {0, -1, applyRoute},
	"route-gateway":        {1, 1, applyRouteGateway},
	"redirect-gateway":     {0, -1, applyRedirect},
	"redirect-private":     {0, -1, applyRedirect},
	"dhcp-option":          {0, -1, applyDHCP},
	"dns":                  {0, -1, applyDNS},
	"ping":                 {1, 1, seconds(func(p *PushOptions) *int { return &p.Ping })},
	"ping-restart":         {1, 1, seconds(func(p *PushOptions) *int { return &p.PingRestart })},
	"peer-id":              {1, 1, applyPeerID},
	"cipher":               {1, 1, func(p *PushOptions, _ string, args []string) error { p.Cipher = args[0]; return nil }},
	"key-derivation":       {1, 1, applyKeyDerivation},
	"protocol-flags":       {0, -1, applyProtocolFlags},
	"tun-mtu":              {1, 1, applyTunMTU},
	"auth-token":           {0, -1, applyAuthToken},
	"auth-token-user":      {0, -1, applyAuthTokenUser},
	"explicit-exit-notify": {0, 1, applyExitNotify},
	"inactive":             {1, 2, applyInactive},
	"block-ipv6":           {0, 0, func(p *PushOptions, _ string, _ []string) error { p.BlockIPv6 = true; return nil }},
	"block-outside-dns":    {0, 0, func(p *PushOptions, _ string, _ []string) error { p.BlockOutsideDNS = true; return nil }},
	"route-metric":         {1, 1, applyRouteMetric},
	"keepalive":            {2, 2, applyKeepalive},
	"echo": {0, -1, func(p *PushOptions, _ string, args []string) error {
		p.Echo = append(p.Echo, strings.Join(args, " "))
		return nil
	}},
}

func seconds(field func(*PushOptions) *int) func(*PushOptions, string, []string) error {
	return func(p *PushOptions, opt string, args []string) error {
		n, ok := atoiRange(args[0], 0, 1<<30)
		if !ok {
			return bad(opt, "%q is not a number of seconds", args[0])
		}
		*field(p) = n
		return nil
	}
}

func applyIfConfig(p *PushOptions, opt string, args []string) error {
	l, ok1 := parseV4(args[0])
	s, ok2 := parseV4(args[1])
	if !ok1 || !ok2 {
		return bad(opt, "want two IPv4 addresses")
	}
	p.IfConfig = &IfConfig{Local: l, Second: s}
	return nil
}

func applyIfConfigIPv6(p *PushOptions, opt string, args []string) error {
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
	return nil
}

func applyTopology(p *PushOptions, opt string, args []string) error {
	switch args[0] {
	case TopologyNet30, TopologyP2P, TopologySubnet:
		p.Topology = args[0]
		return nil
	}
	return bad(opt, "unknown topology %q (want net30, p2p or subnet)", args[0])
}

// applyRoute parses route and route-ipv6 with the profile grammar
// (routeopt). A pushed IPv6 network with host bits set is masked rather
// than refused.
func applyRoute(p *PushOptions, opt string, args []string) error {
	parse, dst := routeopt.Parse, &p.Routes
	if strings.HasPrefix(opt, "route-ipv6") {
		parse, dst = routeopt.ParseIPv6, &p.RoutesIPv6
	}
	r, err := parse(args)
	if re := (*routeopt.Error)(nil); errors.As(err, &re) && re.HostBits && dst == &p.RoutesIPv6 {
		masked := slices.Clone(args)
		masked[0] = r.Dst.String()
		r, err = parse(masked)
	}
	if err != nil {
		return bad(opt, "%v", err)
	}
	*dst = append(*dst, r)
	return nil
}

func applyRouteGateway(p *PushOptions, opt string, args []string) error {
	if args[0] == "dhcp" {
		p.RouteGatewayDHCP = true
		return nil
	}
	a, ok := parseV4(args[0])
	if !ok {
		return bad(opt, "%q is not an IPv4 address or \"dhcp\"", args[0])
	}
	p.RouteGateway = a
	return nil
}

func applyRedirect(p *PushOptions, opt string, args []string) error {
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
	if strings.HasPrefix(opt, "redirect-private") {
		p.Ignored = append(p.Ignored, opt)
		return nil
	}
	p.RedirectGateway = rg
	return nil
}

func applyPeerID(p *PushOptions, opt string, args []string) error {
	n, ok := atoiRange(args[0], 0, 0xFFFFFE)
	if !ok {
		return bad(opt, "%q is not a peer id (0..16777214)", args[0])
	}
	p.PeerID = n
	return nil
}

func applyKeyDerivation(p *PushOptions, opt string, args []string) error {
	if args[0] != "tls-ekm" {
		return bad(opt, "unknown key derivation %q (want tls-ekm)", args[0])
	}
	p.KeyDerivationEKM = true
	return nil
}

func applyProtocolFlags(p *PushOptions, _ string, args []string) error {
	for _, f := range args {
		switch f {
		case "cc-exit":
			p.ProtocolFlags.CCExit = true
		case "tls-ekm":
			p.ProtocolFlags.TLSEKM = true
		case "dyn-tls-crypt":
			p.ProtocolFlags.DynTLSCrypt = true
		case "aead-epoch":
			p.ProtocolFlags.AEADEpoch = true
		default:
			p.Ignored = append(p.Ignored, "protocol-flags "+f)
		}
	}
	return nil
}

func applyTunMTU(p *PushOptions, opt string, args []string) error {
	n, ok := atoiRange(args[0], 100, 65535)
	if !ok {
		return bad(opt, "%q is not an MTU between 100 and 65535", args[0])
	}
	p.TunMTU = n
	return nil
}

// The auth-token options never put their value in an error.
func applyAuthToken(p *PushOptions, _ string, args []string) error {
	if len(args) != 1 || args[0] == "" {
		return bad("auth-token", "want exactly one token")
	}
	p.AuthToken = args[0]
	return nil
}

func applyAuthTokenUser(p *PushOptions, _ string, args []string) error {
	if len(args) != 1 {
		return bad("auth-token-user", "want exactly one base64 username")
	}
	u, err := base64.StdEncoding.DecodeString(args[0])
	if err != nil {
		return bad("auth-token-user", "username is not valid base64")
	}
	p.AuthTokenUser = string(u)
	return nil
}

func applyExitNotify(p *PushOptions, opt string, args []string) error {
	p.ExplicitExitNotify = 1
	if len(args) == 1 {
		n, ok := atoiRange(args[0], 0, 1000)
		if !ok {
			return bad(opt, "%q is not a retry count", args[0])
		}
		p.ExplicitExitNotify = n
	}
	return nil
}

func applyInactive(p *PushOptions, opt string, args []string) error {
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
	return nil
}

func applyDNS(p *PushOptions, opt string, args []string) error {
	if p.DNSOption == nil {
		p.DNSOption = &dnsopt.Options{}
	}
	if err := p.DNSOption.Apply(args, true); err != nil {
		return bad(opt, "%v", err)
	}
	return nil
}

func applyDHCP(p *PushOptions, opt string, args []string) error {
	if len(args) < 1 {
		return bad(opt, "missing type")
	}
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
		if !dnsopt.ValidDomain(v) {
			return bad(opt, "%q is not a domain name", v)
		}
		p.Domain = v
	case "DOMAIN-SEARCH", "DOMAIN-ROUTE":
		v, err := one()
		if err != nil {
			return err
		}
		if !dnsopt.ValidDomain(v) && v != "." {
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
		if !dnsopt.ValidDomain(v) {
			return bad(opt, "%q is not a domain name", v)
		}
		p.AdapterDomainSuffix = v
	default:
		p.DHCPOther = append(p.DHCPOther, opt)
	}
	return nil
}

func applyRouteMetric(p *PushOptions, opt string, args []string) error {
	n, ok := atoiRange(args[0], 0, 1<<31-1)
	if !ok {
		return bad(opt, "%q is not a route metric", args[0])
	}
	p.RouteMetric = n
	return nil
}

// applyKeepalive reads keepalive N M as a client does: ping N and
// ping-restart M.
func applyKeepalive(p *PushOptions, opt string, args []string) error {
	ping, ok1 := atoiRange(args[0], 0, 1<<30)
	restart, ok2 := atoiRange(args[1], 0, 1<<30)
	if !ok1 || !ok2 {
		return bad(opt, "want two numbers of seconds (ping interval, restart timeout)")
	}
	p.Ping, p.PingRestart = ping, restart
	return nil
}
