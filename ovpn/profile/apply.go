package profile

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/dnsopt"
	"github.com/cvpn/cvpn/ovpn/routeopt"
)

// The apply functions of directiveTable, in table order; each gets a
// directive whose argument count is within its entry's bounds.

// setFlag is the apply of a directive that only switches something on.
func setFlag(set func(p *Profile)) applyFunc {
	return func(ps *parser, _ *Directive) bool {
		set(ps.p)
		return true
	}
}

// setSeconds is the apply of "NAME SECONDS".
func setSeconds(field func(p *Profile) *time.Duration) applyFunc {
	return func(ps *parser, d *Directive) bool {
		n, ok := ps.seconds(d.Line, d.Name, d.Args[0])
		if !ok {
			return false
		}
		*field(ps.p) = n
		return true
	}
}

// setNumber is the apply of "NAME NUMBER" with NUMBER in [lo, hi]; a nil
// field only checks the number.
func setNumber(lo, hi int, field func(p *Profile) *int) applyFunc {
	return func(ps *parser, d *Directive) bool {
		n, ok := ps.number(d.Line, d.Name, d.Args[0], lo, hi)
		if !ok {
			return false
		}
		if field != nil {
			*field(ps.p) = n
		}
		return true
	}
}

func (ps *parser) tlsClientPull(d *Directive) bool {
	p := ps.p
	if _, ok := ps.seen["tls-client"]; ok {
		if _, ok := ps.seen["pull"]; ok {
			p.Client = true
		}
	}
	return true
}

func (ps *parser) authFederate(d *Directive) bool {
	p := ps.p
	line := d.Line
	p.Auth.Federated = true
	ps.federateLine = line
	return true
}

func (ps *parser) dev(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	v := strings.ToLower(a[0])
	if strings.HasPrefix(v, "tap") {
		ps.errorf(line, "%s %s: layer-2 (tap) tunnels are not supported by AWS Client VPN or cvpn: use dev tun", d.Name, a[0])
		return false
	}
	if !strings.HasPrefix(v, "tun") && !(d.Name == "dev" && ps.seen["dev-type"] != 0) {
		ps.errorf(line, "%s %s: unknown device type; use dev tun", d.Name, a[0])
		return false
	}
	if d.Name == "dev" {
		p.Dev = a[0]
	}
	return true
}

func (ps *parser) protoDirective(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	pr, ok := parseProto(a[0])
	if !ok {
		ps.errorf(line, "proto %s: unknown or unsupported transport; use udp or tcp (tcp-client)", a[0])
		return false
	}
	ps.proto, ps.protoSet = pr, true
	p.Proto = pr
	return true
}

func (ps *parser) remote(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	r := Remote{Host: a[0], Line: line}
	if r.Host == "" {
		ps.errorf(line, "remote: the host name is empty; usage: remote HOST [PORT] [udp|tcp]")
		return false
	}
	if len(a) >= 2 {
		port, ok := parsePort(a[1])
		if !ok {
			ps.errorf(line, "remote %s %s: the port must be a number from 1 to 65535", a[0], a[1])
			return false
		}
		r.Port = port
	}
	if len(a) == 3 {
		pr, ok := parseProto(a[2])
		if !ok {
			ps.errorf(line, "remote %s: unknown transport %q; use udp or tcp", a[0], a[2])
			return false
		}
		r.Proto = pr
	}
	p.Remotes = append(p.Remotes, r)
	return true
}

func (ps *parser) portDirective(d *Directive) bool {
	a := d.Args
	line := d.Line
	port, ok := parsePort(a[0])
	if !ok {
		ps.errorf(line, "%s %s: the port must be a number from 1 to 65535", d.Name, a[0])
		return false
	}
	ps.port = port
	return true
}

func (ps *parser) resolvRetry(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	if strings.EqualFold(a[0], "infinite") {
		p.ResolvRetryInfinite, p.ResolvRetry = true, 0
	} else {
		n, ok := ps.seconds(line, d.Name, a[0])
		if !ok {
			return false
		}
		p.ResolvRetryInfinite, p.ResolvRetry = false, n
	}
	return true
}

func (ps *parser) authUserPass(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	p.Auth.UserPass = true
	ps.authUserPassLine = line
	p.AuthUserPassFile = ""
	if len(a) == 1 {
		p.AuthUserPassFile = ps.resolvePath(a[0])
	}
	return true
}

func (ps *parser) authRetry(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	v := strings.ToLower(a[0])
	if v != "none" && v != "nointeract" && v != "interact" {
		ps.errorf(line, "auth-retry %s: use none, nointeract or interact", a[0])
		return false
	}
	p.AuthRetry = v
	return true
}

func (ps *parser) staticChallenge(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	if a[1] != "0" && a[1] != "1" {
		ps.errorf(line, "static-challenge: the echo flag must be 0 or 1, got %q", a[1])
		return false
	}
	if len(a) == 3 && !strings.EqualFold(a[2], "scrv1") {
		ps.errorf(line, "static-challenge: response format %q is not supported; use scrv1 (the default)", a[2])
		return false
	}
	p.StaticChallenge = &StaticChallenge{Text: a[0], Echo: a[1] == "1"}
	p.Auth.StaticChallenge = true
	ps.staticChallengeLine = line
	return true
}

func (ps *parser) cryptoAPICert(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	p.CryptoAPICert = a[0]
	ps.cryptoAPILine = line
	return true
}

func (ps *parser) cipher(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	c, ok := canonicalCipher(a[0])
	if !ok {
		ps.errorf(line, "cipher %s: unsupported data channel cipher; use one of %s", a[0], strings.Join(supportedCiphers(), ", "))
		return false
	}
	switch c {
	case "none":
		ps.errorf(line, "cipher none turns encryption off, which cvpn does not allow: use cipher AES-256-GCM")
		return false
	case "BF-CBC":
		ps.warnf(line, "cipher BF-CBC is not supported by cvpn; the data channel cipher is negotiated from data-ciphers instead")
	}
	p.Cipher = c
	return true
}

func (ps *parser) dataCiphers(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	if d.Name == "ncp-ciphers" {
		ps.warnf(line, "ncp-ciphers is the old name of data-ciphers; it is read as data-ciphers")
	}
	var list []string
	for _, c := range strings.Split(a[0], ":") {
		optional := strings.HasPrefix(c, "?")
		c = strings.TrimPrefix(c, "?")
		if c == "" {
			continue
		}
		cc, ok := canonicalCipher(c)
		if !ok || cc == "BF-CBC" || cc == "none" {
			if optional {
				continue
			}
			ps.errorf(line, "%s: unsupported cipher %q; supported: %s (prefix a name with ? to make it optional)", d.Name, c, strings.Join(supportedCiphers(), ", "))
			return false
		}
		list = append(list, cc)
	}
	if len(list) == 0 {
		ps.errorf(line, "%s: no supported cipher in %q; use for example AES-256-GCM:AES-128-GCM", d.Name, a[0])
		return false
	}
	p.DataCiphers = list
	return true
}

func (ps *parser) authDigest(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	dg, ok := canonicalDigest(a[0])
	if !ok {
		ps.errorf(line, "auth %s: unsupported HMAC digest; use SHA1, SHA256, SHA384 or SHA512", a[0])
		return false
	}
	p.Digest = dg
	return true
}

func (ps *parser) ifconfigIPv6(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	local, ok := routeopt.ParsePrefix6(a[0])
	if !ok {
		ps.errorf(line, "ifconfig-ipv6 %s: not an IPv6 address with prefix length (for example fd15:53b6:dead::2/64)", a[0])
		return false
	}
	remote, err := netip.ParseAddr(a[1])
	if err != nil || !remote.Is6() || remote.Is4In6() {
		ps.errorf(line, "ifconfig-ipv6: remote %q is not an IPv6 address", a[1])
		return false
	}
	p.IfconfigIPv6 = &IfconfigIPv6{Local: local, Remote: remote}
	return true
}

func (ps *parser) remoteCertTLS(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	if a[0] != "server" {
		ps.errorf(line, "remote-cert-tls %s: a client profile checks the server certificate: use remote-cert-tls server", a[0])
		return false
	}
	p.RemoteCertTLS = "server"
	return true
}

func (ps *parser) verifyX509Name(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	v := &VerifyX509Name{Name: a[0], Type: "subject"}
	if len(a) == 2 {
		switch a[1] {
		case "subject", "name", "name-prefix":
			v.Type = a[1]
		default:
			ps.errorf(line, "verify-x509-name: type %q is not one of subject, name, name-prefix", a[1])
			return false
		}
	}
	if v.Name == "" {
		ps.errorf(line, "verify-x509-name: the name is empty")
		return false
	}
	p.VerifyX509Name = v
	return true
}

func (ps *parser) renegSec(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	n, ok := ps.seconds(line, d.Name, a[0])
	if !ok {
		return false
	}
	p.RenegInterval = n
	p.RenegIntervalMin = 0
	if len(a) == 2 {
		m, ok := ps.seconds(line, d.Name, a[1])
		if !ok {
			return false
		}
		p.RenegIntervalMin = m
	}
	return true
}

func (ps *parser) keepalive(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	iv, ok1 := ps.seconds(line, d.Name, a[0])
	to, ok2 := ps.seconds(line, d.Name, a[1])
	if !ok1 || !ok2 {
		return false
	}
	if iv <= 0 || to < 2*iv {
		ps.errorf(line, "keepalive %s %s: the interval must be above 0 and the timeout at least twice the interval (for example keepalive 10 60)", a[0], a[1])
		return false
	}
	p.Ping, p.PingRestart = iv, to
	return true
}

func (ps *parser) inactive(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	n, ok := ps.seconds(line, d.Name, a[0])
	if !ok {
		return false
	}
	p.Inactive, p.InactiveBytes = n, 0
	if len(a) == 2 {
		b, err := strconv.ParseInt(a[1], 10, 64)
		if err != nil || b < 0 {
			ps.errorf(line, "inactive: the byte count %q must be a whole number of 0 or more", a[1])
			return false
		}
		p.InactiveBytes = b
	}
	return true
}

func (ps *parser) pullFilter(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	act := strings.ToLower(a[0])
	if act != "accept" && act != "ignore" && act != "reject" {
		ps.errorf(line, "pull-filter %s: the action must be accept, ignore or reject", a[0])
		return false
	}
	p.PullFilters = append(p.PullFilters, PullFilter{Action: act, Text: a[1]})
	return true
}

func (ps *parser) mssfix(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	// A bare mssfix is OpenVPN 2.6's default, 1492 mtu; a number alone
	// does not include the outer IP and UDP header.
	p.MSSFix, p.MSSFixMode, p.MSSFixDefault = 1492, "mtu", true
	if len(a) >= 1 {
		p.MSSFixMode, p.MSSFixDefault = "", false
		n, ok := ps.number(line, d.Name, a[0], 0, 65535)
		if !ok {
			return false
		}
		p.MSSFix = n
	}
	if len(a) == 2 {
		if a[1] != "mtu" && a[1] != "fixed" {
			ps.errorf(line, "mssfix: the second argument must be mtu or fixed, got %q", a[1])
			return false
		}
		p.MSSFixMode = a[1]
	}
	return true
}

func (ps *parser) connectRetry(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	n, ok := ps.seconds(line, d.Name, a[0])
	if !ok {
		return false
	}
	p.ConnectRetry = n
	if len(a) == 2 {
		m, ok := ps.seconds(line, d.Name, a[1])
		if !ok {
			return false
		}
		if m < n {
			ps.errorf(line, "connect-retry %s %s: the maximum must not be below the first delay", a[0], a[1])
			return false
		}
		p.ConnectRetryMax = m
	}
	return true
}

func (ps *parser) explicitExitNotify(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	p.ExplicitExitNotify = 1
	if len(a) == 1 {
		n, ok := ps.number(line, d.Name, a[0], 0, 100)
		if !ok {
			return false
		}
		p.ExplicitExitNotify = n
	}
	return true
}

func (ps *parser) compLZO(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	if len(a) == 1 && strings.EqualFold(a[0], "no") {
		p.Compression = CompressionLZONo
		return true
	}
	ps.errorf(line, "%s: compression is not supported (it leaks data, see VORACLE); use comp-lzo no or remove the line", strings.Join(append([]string{d.Name}, a...), " "))
	return false
}

func (ps *parser) compress(d *Directive) bool {
	p := ps.p
	a := d.Args
	line := d.Line
	switch {
	case len(a) == 0 || a[0] == "stub":
		p.Compression = CompressionStub
	case a[0] == "stub-v2":
		p.Compression = CompressionStubV2
	default:
		ps.errorf(line, "compress %s: compression is not supported (it leaks data, see VORACLE); use compress stub-v2 or remove the line", a[0])
		return false
	}
	return true
}

func (ps *parser) routeDirective(d *Directive) bool {
	if d.Name == "route-ipv6" {
		r, ok := ps.route6(d.Line, d.Args)
		if ok {
			ps.p.RoutesIPv6 = append(ps.p.RoutesIPv6, r)
		}
		return ok
	}
	r, ok := ps.route(d.Line, d.Args)
	if ok {
		ps.p.Routes = append(ps.p.Routes, r)
	}
	return ok
}

// dnsDirective adds a `dns` line (OpenVPN 2.6/2.7 grammar) to p.DNS;
// finish checks that every server has an address.
func (ps *parser) dnsDirective(d *Directive) bool {
	if ps.p.DNS == nil {
		ps.p.DNS = &dnsopt.Options{}
	}
	if err := ps.p.DNS.Apply(d.Args, false); err != nil {
		ps.errorf(d.Line, "dns: %v", err)
		return false
	}
	if ps.dnsLine == 0 {
		ps.dnsLine = d.Line
	}
	return true
}

func (ps *parser) dhcpOptionDirective(d *Directive) bool {
	o, ok := ps.dhcpOption(d.Line, d.Args)
	if ok {
		ps.p.DHCPOptions = append(ps.p.DHCPOptions, o)
	}
	return ok
}
