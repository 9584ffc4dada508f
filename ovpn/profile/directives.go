package profile

import (
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/routeopt"
)

// dirKind says how a directive is handled.
type dirKind int

const (
	kindSupported dirKind = iota // understood and used
	kindIgnored                  // harmless: warned and ignored
	kindScript                   // runs a script: warned, never executed
	kindRefused                  // cannot work with cvpn: error
)

// applyFunc interprets one supported directive whose argument count has
// been checked; it returns false when the directive is invalid (the
// diagnostic has been reported).
type applyFunc func(ps *parser, d *Directive) bool

// dirSpec is one entry of directiveTable: the directive names it covers
// and how they are handled. Adding a directive is one entry.
type dirSpec struct {
	names string // space-separated; the entry applies to each alike
	kind  dirKind
	// min and max bound the argument count (max -1 = any); args is the
	// usage after the name shown for a wrong count.
	min, max int
	args     string
	// reason is why a refused directive cannot work; with reasonNamed the
	// directive's name goes in front of it.
	reason      string
	reasonNamed bool
	multi       bool // may appear several times (else the last one wins)
	inline      bool // takes a FILE or an inline <block>
	noHint      bool // never offered as a "did you mean" hint
	apply       applyFunc
}

func sup(names string, min, max int, args string, apply applyFunc) dirSpec {
	return dirSpec{names: names, kind: kindSupported, min: min, max: max, args: args, apply: apply}
}

func (s dirSpec) many() dirSpec   { s.multi = true; return s }
func (s dirSpec) file() dirSpec   { s.inline = true; return s }
func (s dirSpec) hidden() dirSpec { s.noHint = true; return s }

func script(names string) dirSpec  { return dirSpec{names: names, kind: kindScript, max: -1} }
func ignored(names string) dirSpec { return dirSpec{names: names, kind: kindIgnored, max: -1} }
func refused(names, reason string) dirSpec {
	return dirSpec{names: names, kind: kindRefused, max: -1, reason: reason}
}
func refusedNamed(names, reason string) dirSpec {
	s := refused(names, reason)
	s.reasonNamed = true
	return s
}

// directiveTable lists every directive cvpn knows, supported ones first in
// the order "did you mean" hints prefer them.
var directiveTable = []dirSpec{
	sup("client", 0, 0, "", setFlag(func(p *Profile) { p.Client = true })),
	sup("tls-client pull", 0, 0, "", (*parser).tlsClientPull),
	sup("nobind", 0, 0, "", setFlag(func(p *Profile) { p.Nobind = true })),
	sup("persist-key", 0, 0, "", setFlag(func(p *Profile) { p.PersistKey = true })),
	sup("persist-tun", 0, 0, "", setFlag(func(p *Profile) { p.PersistTun = true })),
	sup("float", 0, 0, "", setFlag(func(p *Profile) { p.Float = true })),
	sup("remote-random-hostname", 0, 0, "", setFlag(func(p *Profile) { p.RemoteRandomHostname = true })),
	sup("auth-federate", 0, 0, "", (*parser).authFederate),
	sup("auth-nocache", 0, 0, "", setFlag(func(p *Profile) { p.AuthNoCache = true })),
	sup("dev", 1, 1, "tun", (*parser).dev),
	sup("dev-type", 1, 1, "tun", (*parser).dev),
	sup("proto", 1, 1, "udp|tcp", (*parser).protoDirective),
	sup("remote", 1, 3, "HOST [PORT] [udp|tcp]", (*parser).remote).many(),
	sup("port rport", 1, 1, "PORT", (*parser).portDirective),
	sup("resolv-retry", 1, 1, "infinite|SECONDS", (*parser).resolvRetry),
	sup("auth-user-pass", 0, 1, "[FILE]", (*parser).authUserPass),
	sup("auth-retry", 1, 1, "none|nointeract|interact", (*parser).authRetry),
	sup("static-challenge", 2, 3, `"TEXT" 0|1`, (*parser).staticChallenge),
	sup("cryptoapicert", 1, 1, `"SUBJ:name"`, (*parser).cryptoAPICert),
	sup("ca", 1, 1, "FILE (or an inline <ca> block)", (*parser).material).file(),
	sup("cert", 1, 1, "FILE (or an inline <cert> block)", (*parser).material).file(),
	sup("key", 1, 1, "FILE (or an inline <key> block)", (*parser).material).file(),
	sup("tls-crypt", 1, 1, "FILE (or an inline <tls-crypt> block)", (*parser).material).file(),
	sup("tls-crypt-v2", 1, 1, "FILE (or an inline <tls-crypt-v2> block)", (*parser).material).file(),
	sup("tls-auth", 1, 2, "FILE [0|1] (or an inline <tls-auth> block)", (*parser).material).file(),
	sup("key-direction", 1, 1, "0|1", func(ps *parser, d *Directive) bool { return ps.keyDirection(d.Line, d.Args[0]) }),
	sup("cipher", 1, 1, "NAME", (*parser).cipher),
	sup("data-ciphers", 1, 1, "CIPHER:CIPHER:...", (*parser).dataCiphers),
	sup("ncp-ciphers", 1, 1, "CIPHER:CIPHER:...", (*parser).dataCiphers).hidden(),
	sup("auth", 1, 1, "DIGEST", (*parser).authDigest),
	sup("route", routeopt.MinArgs4, routeopt.MaxArgs4, strings.TrimPrefix(routeopt.Usage4, "route "), (*parser).routeDirective).many(),
	sup("route-ipv6", routeopt.MinArgs6, routeopt.MaxArgs6, strings.TrimPrefix(routeopt.Usage6, "route-ipv6 "), (*parser).routeDirective).many(),
	sup("ifconfig-ipv6", 2, 2, "ADDRESS/BITS REMOTE", (*parser).ifconfigIPv6),
	sup("dhcp-option", 1, 2, "TYPE [VALUE]", (*parser).dhcpOptionDirective).many(),
	sup("dns", 2, -1, "search-domains DOMAIN... | server N address|resolve-domains|dnssec|transport|sni VALUE...", (*parser).dnsDirective).many(),
	sup("remote-cert-tls", 1, 1, "server", (*parser).remoteCertTLS),
	sup("verify-x509-name", 1, 2, "NAME [subject|name|name-prefix]", (*parser).verifyX509Name),
	sup("reneg-sec", 1, 2, "SECONDS [MIN]", (*parser).renegSec),
	sup("ping", 1, 1, "NUMBER", setSeconds(func(p *Profile) *time.Duration { return &p.Ping })),
	sup("ping-restart", 1, 1, "NUMBER", setSeconds(func(p *Profile) *time.Duration { return &p.PingRestart })),
	sup("ping-exit", 1, 1, "NUMBER", setSeconds(func(p *Profile) *time.Duration { return &p.PingExit })),
	sup("server-poll-timeout", 1, 1, "NUMBER", setSeconds(func(p *Profile) *time.Duration { return &p.ServerPollTimeout })),
	sup("connect-retry-max", 1, 1, "NUMBER", setNumber(1, 1<<30, func(p *Profile) *int { return &p.ConnectRetryAttempts })),
	sup("tun-mtu", 1, 1, "NUMBER", setNumber(576, 65535, func(p *Profile) *int { return &p.TunMTU })),
	sup("tun-mtu-extra", 1, 1, "NUMBER", setNumber(0, 65535, func(p *Profile) *int { return &p.TunMTUExtra })),
	sup("sndbuf", 1, 1, "NUMBER", setNumber(0, 1<<30, func(p *Profile) *int { return &p.Sndbuf })),
	sup("rcvbuf", 1, 1, "NUMBER", setNumber(0, 1<<30, func(p *Profile) *int { return &p.Rcvbuf })),
	sup("verb", 1, 1, "NUMBER", setNumber(0, 11, func(p *Profile) *int { return &p.Verb })),
	sup("tap-sleep", 1, 1, "NUMBER", setNumber(0, 255, nil)),
	sup("keepalive", 2, 2, "INTERVAL TIMEOUT", (*parser).keepalive),
	sup("inactive", 1, 2, "SECONDS [BYTES]", (*parser).inactive),
	sup("pull-filter", 2, 2, `accept|ignore|reject "TEXT"`, (*parser).pullFilter).many(),
	sup("mssfix", 0, 2, "[BYTES [mtu|fixed]]", (*parser).mssfix),
	sup("connect-retry", 1, 2, "SECONDS [MAX]", (*parser).connectRetry),
	sup("explicit-exit-notify", 0, 1, "[N]", (*parser).explicitExitNotify),
	sup("comp-lzo", 0, 1, "no", (*parser).compLZO),
	sup("compress", 0, 1, "stub|stub-v2", (*parser).compress),
	sup("setenv", 1, -1, "NAME VALUE", (*parser).setenv).many(),
	sup("script-security", 1, 2, "LEVEL", setNumber(0, 3, nil)),
	sup("ignore-unknown-option", 1, -1, "NAME...", func(*parser, *Directive) bool { return true }).many().hidden(),

	script("up down route-up route-pre-down ipchange auth-user-pass-verify " +
		"tls-verify client-connect client-disconnect learn-address down-pre"),

	ignored("mute mute-replay-warnings status log log-append suppress-timestamps " +
		"machine-readable-output route-delay route-method block-outside-dns " +
		"tls-version-min tls-version-max tls-cipher tls-ciphersuites tls-groups " +
		"remote-cert-ku remote-cert-eku allow-compression user group " +
		"persist-remote-ip push-peer-info windows-driver ping-timer-rem " +
		"hand-window tls-timeout tran-window replay-window register-dns " +
		"ip-win32 auth-token-user management management-query-passwords " +
		"management-hold daemon writepid chroot topology"),

	refused("secret", "static key mode (secret) is not supported; AWS Client VPN and cvpn use TLS: remove the line and use a <ca> block"),
	refused("connection", "<connection> blocks are not supported: write each server as a remote HOST PORT PROTO line"),
	refused("ns-cert-type", "ns-cert-type was removed in OpenVPN 2.5: use remote-cert-tls server"),
	refusedNamed("server mode tls-server ifconfig ifconfig-pool push client-to-client "+
		"duplicate-cn dh crl-verify client-config-dir local lport bind",
		" is a server or point-to-point option and is not supported in a client profile: remove it"),
	refusedNamed("http-proxy http-proxy-option socks-proxy http-proxy-user-pass",
		" is not supported: cvpn connects to the endpoint directly"),
	refused("pkcs12", "pkcs12 is not supported: convert it with openssl pkcs12 -in FILE -nodes and use <ca>, <cert> and <key> blocks"),
	refused("askpass", "askpass (passphrase-protected keys) is not supported: decrypt the key with openssl pkey and inline it"),
	refusedNamed("redirect-gateway redirect-private route-nopull route-noexec ifconfig-noexec route-gateway route-metric block-ipv6",
		" is not supported in a profile: the endpoint pushes the routing it wants"),
	refusedNamed("extra-certs engine providers pkcs11-providers pkcs11-id management-external-key management-external-cert",
		" is not supported: put the client certificate chain in <cert> and the key in <key>"),
}

// directiveIndex finds a name's entry in directiveTable.
var directiveIndex = indexDirectives(directiveTable)

func indexDirectives(table []dirSpec) map[string]*dirSpec {
	m := map[string]*dirSpec{}
	for i := range table {
		for _, n := range strings.Fields(table[i].names) {
			m[n] = &table[i]
		}
	}
	return m
}

// directive is a table entry resolved for one name.
type directive struct {
	*dirSpec
	usage  string
	reason string
}

// lookupDirective returns the entry of a directive name.
func lookupDirective(name string) (directive, bool) {
	s, ok := directiveIndex[name]
	if !ok {
		return directive{}, false
	}
	d := directive{dirSpec: s, usage: name, reason: s.reason}
	if s.args != "" {
		d.usage = name + " " + s.args
	}
	if s.reasonNamed {
		d.reason = name + s.reason
	}
	return d, true
}

// multiDirective reports whether a directive may appear several times;
// any other directive repeated gets a warning that the last one wins.
func multiDirective(name string) bool {
	s, ok := directiveIndex[name]
	return ok && s.multi
}

// inlineable directives take a file path or an inline <block>.
func inlineable(name string) bool {
	s, ok := directiveIndex[name]
	return ok && s.inline
}

// suggest returns the supported directive closest to name, or "".
func suggest(name string) string {
	best, bestD := "", 3
	if len(name) > 64 {
		return ""
	}
	for i := range directiveTable {
		s := &directiveTable[i]
		if s.kind != kindSupported || s.noHint {
			continue
		}
		for _, k := range strings.Fields(s.names) {
			if d := editDistance(name, k); d < bestD {
				best, bestD = k, d
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
