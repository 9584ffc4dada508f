package openvpnpeer

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// Binary is the OpenVPN executable the runners start.
const Binary = "/usr/sbin/openvpn"

// TLSWrap selects the control channel protection.
type TLSWrap int

const (
	WrapNone     TLSWrap = iota
	WrapTLSAuth          // --tls-auth (HMAC); server direction 0, client 1
	WrapTLSCrypt         // --tls-crypt (encryption + HMAC)
)

// String returns "none", "tls-auth" or "tls-crypt".
func (w TLSWrap) String() string {
	switch w {
	case WrapTLSAuth:
		return "tls-auth"
	case WrapTLSCrypt:
		return "tls-crypt"
	default:
		return "none"
	}
}

// Defaults used when a ServerConfig field is zero.
var (
	DefaultNetwork     = netip.MustParsePrefix("10.8.0.0/24")
	DefaultNetwork6    = netip.MustParsePrefix("fd08::/64")
	DefaultDataCiphers = []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"}
)

// DefaultPort is the OpenVPN port.
const DefaultPort = 1194

// User is an account accepted by the server's --auth-user-pass-verify
// script.
type User struct {
	Name     string
	Password string
	// ChallengeResponse, when set, makes the script require the static
	// challenge form "SCRV1:base64(Password):base64(ChallengeResponse)".
	ChallengeResponse string
	// FailReason, when set, refuses this user even with the right
	// password, with this text as the AUTH_FAILED reason (written to
	// $auth_failed_reason_file), e.g. "TEMP[backoff 3,advance no]: busy".
	FailReason string
	// WebAuth, when set, defers this user's authentication after the
	// password check: the server sends AUTH_PENDING and
	// INFO_PRE,WEB_AUTH::<WebAuth> (a sign-in page URL) to clients whose
	// IV_SSO has webauth (others are refused) and waits until
	// Server.DecidePending.
	WebAuth string
	// CRText and CRAnswer, when CRText is set, defer this user's
	// authentication after the password check with a CR_TEXT question
	// (flags E,R); the server's --client-crresponse script accepts the
	// client's CR_RESPONSE when it decodes to CRAnswer.
	CRText, CRAnswer string
}

// ServerConfig describes an OpenVPN server. Zero values get defaults.
type ServerConfig struct {
	NS      string     // namespace to run in (required)
	Version Version    // V26 (default) or V27
	Listen  netip.Addr // --local; zero listens on all addresses
	Proto   string     // "udp" (default) or "tcp"
	Port    int        // default 1194

	// PKI supplies the CA, server certificate and static keys; nil makes
	// StartServer generate one with clients "client1" and "client2".
	PKI *pki.PKI
	// CRL, when set, is written to crl.pem and used with --crl-verify.
	CRL  []byte
	Wrap TLSWrap

	DataCiphers []string // --data-ciphers, default DefaultDataCiphers
	Auth        string   // --auth digest for CBC ciphers, e.g. "SHA256"

	// Users enables --auth-user-pass-verify (via-file) with
	// --script-security 2.
	Users []User
	// NoClientCert sets --verify-client-cert none (user/password only).
	NoClientCert bool

	Network  netip.Prefix // IPv4 pool (topology subnet), default DefaultNetwork
	Network6 netip.Prefix // --server-ipv6, default DefaultNetwork6; set NoIPv6 to omit
	NoIPv6   bool

	PushRoutes []netip.Prefix // pushed as route / route-ipv6
	PushDNS    []netip.Addr   // pushed as dhcp-option DNS
	Push       []string       // raw push option strings, e.g. "redirect-gateway def1"

	RenegSec   int    // --reneg-sec (0 keeps openvpn's default of 3600)
	RenegBytes int64  // --reneg-bytes
	Keepalive  [2]int // --keepalive, default 10 60

	ForceEKM bool // --force-tls-key-material-export
	// ExplicitExitNotify tells UDP clients when the server stops (they
	// reconnect at once); off by default because it delays the exit.
	ExplicitExitNotify bool
	Management         bool // --management DIR/management.sock unix
	Verb               int  // --verb, default 3
	// Extra is appended to the config file, one directive per element.
	Extra []string
}

func (c *ServerConfig) applyDefaults() {
	if c.Proto == "" {
		c.Proto = "udp"
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if len(c.DataCiphers) == 0 {
		c.DataCiphers = DefaultDataCiphers
	}
	if !c.Network.IsValid() {
		c.Network = DefaultNetwork
	}
	if !c.Network6.IsValid() {
		c.Network6 = DefaultNetwork6
	}
	if c.Keepalive == [2]int{} {
		c.Keepalive = [2]int{10, 60}
	}
	if c.Verb == 0 {
		c.Verb = 3
	}
}

func (c *ServerConfig) validate() error {
	if c.NS == "" {
		return fmt.Errorf("openvpnpeer: ServerConfig.NS is empty")
	}
	if c.Proto != "udp" && c.Proto != "tcp" {
		return fmt.Errorf("openvpnpeer: ServerConfig.Proto %q: want udp or tcp", c.Proto)
	}
	if !c.Network.Addr().Is4() || c.Network.Bits() > 29 {
		return fmt.Errorf("openvpnpeer: ServerConfig.Network %s: want an IPv4 prefix of /29 or shorter", c.Network)
	}
	if !c.NoIPv6 && (!c.Network6.Addr().Is6() || c.Network6.Bits() > 112) {
		return fmt.Errorf("openvpnpeer: ServerConfig.Network6 %s: want an IPv6 prefix of /112 or shorter", c.Network6)
	}
	if c.NoClientCert && len(c.Users) == 0 {
		return fmt.Errorf("openvpnpeer: ServerConfig.NoClientCert without Users would accept anyone")
	}
	for i, u := range c.Users {
		if u.Name == "" || strings.ContainsAny(u.Name+u.Password+u.ChallengeResponse+u.FailReason+u.WebAuth+u.CRText+u.CRAnswer, "\n\r") {
			return fmt.Errorf("openvpnpeer: ServerConfig.Users[%d]: empty name or a line break in the credentials", i)
		}
	}
	return nil
}

// serverFiles are the absolute paths render needs.
type serverFiles struct {
	CA, Cert, Key, TLSAuth, TLSCrypt, CRL, Verify, Management string
}

func (c *ServerConfig) render(f serverFiles) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by openvpnpeer")
	w("dev tun")
	w("proto %s", c.Proto)
	if c.Listen.IsValid() {
		w("local %s", c.Listen)
	}
	w("port %d", c.Port)
	w("topology subnet")
	w("server %s %s", c.Network.Masked().Addr(), mask(c.Network))
	if !c.NoIPv6 {
		w("server-ipv6 %s", c.Network6.Masked())
	}
	w("ca %s", f.CA)
	w("cert %s", f.Cert)
	w("key %s", f.Key)
	w("dh none")
	switch c.Wrap {
	case WrapTLSAuth:
		w("tls-auth %s 0", f.TLSAuth)
	case WrapTLSCrypt:
		w("tls-crypt %s", f.TLSCrypt)
	}
	if f.CRL != "" {
		w("crl-verify %s", f.CRL)
	}
	w("data-ciphers %s", strings.Join(c.DataCiphers, ":"))
	if c.Auth != "" {
		w("auth %s", c.Auth)
	}
	if len(c.Users) > 0 {
		w("script-security 2")
		w("auth-user-pass-verify %s via-file", f.Verify)
	}
	for _, u := range c.Users {
		if u.WebAuth != "" || u.CRText != "" {
			// Deferred auth: the control and pending files go to the run
			// directory, where DecidePending (and the crresponse script)
			// find them.
			w("tmp-dir %s", filepath.Dir(f.Verify))
			w("client-crresponse %s", filepath.Join(filepath.Dir(f.Verify), "crresponse.sh"))
			break
		}
	}
	if c.NoClientCert {
		w("verify-client-cert none")
		w("username-as-common-name")
	}
	for _, p := range c.PushRoutes {
		if p.Addr().Is4() {
			w("push \"route %s %s\"", p.Masked().Addr(), mask(p))
		} else {
			w("push \"route-ipv6 %s\"", p.Masked())
		}
	}
	for _, d := range c.PushDNS {
		w("push \"dhcp-option DNS %s\"", d)
	}
	for _, p := range c.Push {
		w("push %s", strconv.Quote(p))
	}
	w("keepalive %d %d", c.Keepalive[0], c.Keepalive[1])
	if c.RenegSec != 0 {
		w("reneg-sec %d", c.RenegSec)
	}
	if c.RenegBytes != 0 {
		w("reneg-bytes %d", c.RenegBytes)
	}
	if c.ForceEKM {
		w("force-tls-key-material-export")
	}
	if c.Management {
		w("management %s unix", f.Management)
	}
	if c.Proto == "udp" && c.ExplicitExitNotify {
		w("explicit-exit-notify 1")
	}
	w("verb %d", c.Verb)
	for _, e := range c.Extra {
		w("%s", e)
	}
	return b.String()
}

func mask(p netip.Prefix) string {
	m := net.CIDRMask(p.Bits(), 32)
	return net.IP(m).String()
}

// ProfileOptions shape ClientProfile's output.
type ProfileOptions struct {
	// ClientCert is the name of a client certificate in the server's PKI to
	// inline as <cert>/<key>; empty for none.
	ClientCert string
	// Remote overrides the remote host; default the server's Listen address.
	Remote string
	// StaticChallenge adds `static-challenge "TEXT" ECHO` when Text is set.
	StaticChallenge     string
	StaticChallengeEcho bool
	// Extra lines appended verbatim before the inline blocks.
	Extra []string
}

// SCRV1 returns the password a static-challenge client sends:
// "SCRV1:" + base64(password) + ":" + base64(response).
func SCRV1(password, response string) string {
	e := base64.StdEncoding.EncodeToString
	return "SCRV1:" + e([]byte(password)) + ":" + e([]byte(response))
}

// shellQuote returns s as a single-quoted POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// crResponseScript renders the --client-crresponse script: $1 holds the
// client's CR_RESPONSE (base64); a right answer for $username writes 1 to
// the control file recorded by the verify script, a wrong one 0. It logs
// "cr-ok NAME" or "cr-fail NAME" (never the answer).
func crResponseScript(users []User, logPath string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# written by openvpnpeer: checks a CR_RESPONSE in $1\n")
	b.WriteString("a=$(base64 -d < \"$1\" 2>/dev/null)\nok=0\ncase \"$username\" in\n")
	for _, u := range users {
		if u.CRText != "" {
			fmt.Fprintf(&b, "%s) [ \"$a\" = %s ] && ok=1 ;;\n", shellQuote(u.Name), shellQuote(u.CRAnswer))
		}
	}
	b.WriteString("*) exit 1 ;;\nesac\n")
	dir := filepath.Dir(logPath)
	fmt.Fprintf(&b, "c=$(cat %s/pending-\"$username\") || exit 1\n", shellQuote(dir))
	lq := shellQuote(logPath)
	fmt.Fprintf(&b, "if [ \"$ok\" = 1 ]; then printf 'cr-ok %%s\\n' \"$username\" >> %s; echo 1 > \"$c\"; exit 0; fi\n", lq)
	fmt.Fprintf(&b, "printf 'cr-fail %%s\\n' \"$username\" >> %s; echo 0 > \"$c\"\nexit 1\n", lq)
	return b.String()
}

// verifyScript renders the --auth-user-pass-verify via-file script: $1 is a
// file holding the username and the password on two lines. It appends
// "ok NAME" or "fail NAME" to logPath (never the password).
func verifyScript(users []User, logPath string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# written by openvpnpeer: checks credentials openvpn passes via-file in $1\n")
	b.WriteString("u=$(sed -n 1p \"$1\")\np=$(sed -n 2p \"$1\")\nok=0\ncase \"$u\" in\n")
	for _, u := range users {
		want := u.Password
		if u.ChallengeResponse != "" {
			want = SCRV1(u.Password, u.ChallengeResponse)
		}
		if u.FailReason != "" {
			fmt.Fprintf(&b, "%s) [ -n \"$auth_failed_reason_file\" ] && printf '%%s' %s > \"$auth_failed_reason_file\" ;;\n", shellQuote(u.Name), shellQuote(u.FailReason))
			continue
		}
		fmt.Fprintf(&b, "%s) [ \"$p\" = %s ] && ok=1 ;;\n", shellQuote(u.Name), shellQuote(want))
	}
	b.WriteString("esac\n")
	lq := shellQuote(logPath)
	// Deferred web sign-in: the pending file asks the server for
	// AUTH_PENDING with WEB_AUTH; the control file's path is kept for
	// Server.DecidePending.
	for _, u := range users {
		if u.CRText == "" {
			continue
		}
		rec := shellQuote(filepath.Join(filepath.Dir(logPath), "pending-"+u.Name))
		fmt.Fprintf(&b, "if [ \"$ok\" = 1 ] && [ \"$u\" = %s ]; then\n", shellQuote(u.Name))
		fmt.Fprintf(&b, "  case \",$IV_SSO,\" in *,crtext,*) ;; *) printf 'fail %%s (no crtext in IV_SSO=%%s)\\n' \"$u\" \"$IV_SSO\" >> %s; exit 1 ;; esac\n", lq)
		fmt.Fprintf(&b, "  printf '120\\ncrtext\\nCR_TEXT:E,R:%%s\\n' %s > \"$auth_pending_file\"\n", shellQuote(u.CRText))
		fmt.Fprintf(&b, "  printf '%%s' \"$auth_control_file\" > %s\n", rec)
		fmt.Fprintf(&b, "  printf 'pending %%s\\n' \"$u\" >> %s; exit 2\nfi\n", lq)
	}
	for _, u := range users {
		if u.WebAuth == "" {
			continue
		}
		rec := shellQuote(filepath.Join(filepath.Dir(logPath), "pending-"+u.Name))
		fmt.Fprintf(&b, "if [ \"$ok\" = 1 ] && [ \"$u\" = %s ]; then\n", shellQuote(u.Name))
		fmt.Fprintf(&b, "  case \",$IV_SSO,\" in *,webauth,*) ;; *) printf 'fail %%s (no webauth in IV_SSO=%%s)\\n' \"$u\" \"$IV_SSO\" >> %s; exit 1 ;; esac\n", lq)
		fmt.Fprintf(&b, "  printf '120\\nwebauth\\nWEB_AUTH::%%s\\n' %s > \"$auth_pending_file\"\n", shellQuote(u.WebAuth))
		fmt.Fprintf(&b, "  printf '%%s' \"$auth_control_file\" > %s\n", rec)
		fmt.Fprintf(&b, "  printf 'pending %%s\\n' \"$u\" >> %s; exit 2\nfi\n", lq)
	}
	fmt.Fprintf(&b, "if [ \"$ok\" = 1 ]; then printf 'ok %%s\\n' \"$u\" >> %s; exit 0; fi\n", lq)
	fmt.Fprintf(&b, "printf 'fail %%s\\n' \"$u\" >> %s\nexit 1\n", lq)
	return b.String()
}
