package profile

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/dnsopt"
	"github.com/cvpn/cvpn/ovpn/routeopt"
)

// Profile is the typed model of a client profile. Parse fills every field,
// applying OpenVPN's defaults where the profile is silent.
type Profile struct {
	// Name is the name used in diagnostics (usually the file path).
	Name string
	// Directives are the profile's directives in order, with referenced
	// files and inline blocks resolved; Serialize writes them back.
	Directives []Directive

	// Client is true for "client" (or "tls-client" plus "pull").
	Client bool
	// Dev is the device argument of "dev" ("tun", "tun0", ...).
	Dev string

	// Remotes are the servers to try, in order, each with its port and
	// transport resolved against "port" and "proto".
	Remotes []Remote
	// Proto is the default transport from "proto" (default udp).
	Proto Proto
	// RemoteRandomHostname prepends a random hex label to host names
	// before each DNS lookup.
	RemoteRandomHostname bool
	// ResolvRetry is how long to keep retrying DNS; ResolvRetryInfinite
	// means forever ("resolv-retry infinite", the default).
	ResolvRetry         time.Duration
	ResolvRetryInfinite bool
	Nobind              bool
	PersistKey          bool
	PersistTun          bool
	Float               bool

	// Auth says which authentication methods the profile asks for.
	Auth AuthMode
	// AuthUserPassFile is the optional file argument of "auth-user-pass"
	// (resolved against the base directory). It is never read by this
	// package and never copied by Serialize.
	AuthUserPassFile string
	// StaticChallenge is set by "static-challenge TEXT ECHO".
	StaticChallenge *StaticChallenge
	AuthNoCache     bool
	// AuthRetry is the "auth-retry" mode: none (default), nointeract, interact.
	AuthRetry string
	// CryptoAPICert is the Windows certificate store selector; cvpn does
	// not read the store (a warning says so).
	CryptoAPICert string

	// CA is the parsed CA certificate bundle.
	CA []*x509.Certificate
	// CertChain is the client certificate followed by any intermediates.
	CertChain []*x509.Certificate
	// ClientCert is the client certificate and key for crypto/tls, nil
	// without mutual authentication. Leaf is set.
	ClientCert *tls.Certificate

	// TLSAuth, TLSCrypt and TLSCryptV2 are the control channel keys.
	TLSAuth    *StaticKey
	TLSCrypt   *StaticKey
	TLSCryptV2 *TLSCryptV2Key
	// KeyDirection is the tls-auth key direction.
	KeyDirection KeyDirection

	// Cipher is the "cipher" directive (the fallback cipher in OpenVPN
	// 2.6), empty when absent.
	Cipher string
	// DataCiphers is the data channel cipher list offered to the server
	// (default AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305).
	DataCiphers []string
	// Digest is the HMAC digest of "auth" (default SHA1).
	Digest string

	Routes       []Route
	RoutesIPv6   []Route
	IfconfigIPv6 *IfconfigIPv6
	DHCPOptions  []DHCPOption
	// DNS is the profile's `dns` configuration, nil without dns lines;
	// servers pushed with the same id replace its servers.
	DNS *dnsopt.Options

	// RemoteCertTLS is "server" when the server certificate must carry the
	// TLS Web Server Authentication extended key usage.
	RemoteCertTLS  string
	VerifyX509Name *VerifyX509Name

	// RenegInterval is the renegotiation interval; 0 disables renegotiation by
	// the client (default 3600 s). RenegIntervalMin is the optional minimum.
	RenegInterval    time.Duration
	RenegIntervalMin time.Duration
	// Ping, PingRestart and PingExit are 0 when off. "keepalive A B" sets
	// Ping=A and PingRestart=B.
	Ping        time.Duration
	PingRestart time.Duration
	PingExit    time.Duration
	// Inactive disconnects after this long with fewer than InactiveBytes
	// bytes of traffic; 0 is off.
	Inactive      time.Duration
	InactiveBytes int64

	PullFilters []PullFilter

	// MSSFix is the TCP MSS clamp target and MSSFixMode "mtu" (the size
	// includes the outer IP and UDP/TCP header), "" (it does not, as
	// link-mtu) or "fixed" (the inner IP packet). The default, as in
	// OpenVPN 2.6, is 1492 "mtu"; 0 turns clamping off.
	MSSFix     int
	MSSFixMode string
	// MSSFixDefault is true when the profile gives no mssfix size (no
	// directive or a bare mssfix): the clamp then follows the tunnel MTU
	// as in OpenVPN 2.6 (see mssfix.DefaultFor).
	MSSFixDefault bool
	// TunMTU is the tunnel MTU (default 1500); TunMTUExtra the TAP extra.
	TunMTU      int
	TunMTUExtra int

	// ConnectRetry is the delay between connection attempts (default 1 s)
	// and ConnectRetryMax the cap of its exponential backoff (default
	// 300 s). ConnectRetryAttempts is "connect-retry-max" (0 = unlimited).
	ConnectRetry         time.Duration
	ConnectRetryMax      time.Duration
	ConnectRetryAttempts int
	// ServerPollTimeout is how long to wait for a server response
	// (default 120 s).
	ServerPollTimeout time.Duration

	// ExplicitExitNotify is the number of exit notifications to send (UDP);
	// 0 is off.
	ExplicitExitNotify int
	// Compression is the compression framing (never real compression).
	Compression Compression

	Sndbuf int
	Rcvbuf int
	Verb   int
	// Setenv holds "setenv NAME VALUE" pairs; names starting with "UV_"
	// are sent to the server as peer info.
	Setenv []EnvVar
}

// Directive is one directive of a profile with its arguments.
type Directive struct {
	Name string
	Args []string
	// Line is the line the directive starts on.
	Line int
	// Body is the content of an inline block or of the file a path
	// argument refers to; Inline is true when Body is set.
	Inline bool
	Body   string
}

// AuthMode lists the authentication methods a profile asks for; several
// may be set (mutual + federated, mutual + user/password). Federated takes
// precedence over UserPass: AWS exports federated profiles with both
// auth-user-pass and auth-federate, and the client then runs the SAML
// browser flow instead of asking for a password.
type AuthMode struct {
	// Certificate: a client certificate and key (mutual authentication).
	Certificate bool `json:"certificate"`
	// UserPass: "auth-user-pass" (Active Directory / user-based).
	UserPass bool `json:"user_pass"`
	// StaticChallenge: an MFA code is asked with the password.
	StaticChallenge bool `json:"static_challenge"`
	// Federated: "auth-federate", SAML through the browser.
	Federated bool `json:"federated"`
}

// Names returns the set methods as short names: certificate, user-pass,
// static-challenge, federated.
func (a AuthMode) Names() []string {
	var out []string
	if a.Certificate {
		out = append(out, "certificate")
	}
	if a.UserPass {
		out = append(out, "user-pass")
	}
	if a.StaticChallenge {
		out = append(out, "static-challenge")
	}
	if a.Federated {
		out = append(out, "federated")
	}
	return out
}

// StaticChallenge is the MFA prompt of "static-challenge".
type StaticChallenge struct {
	Text string `json:"text"`
	// Echo is true when the response may be shown while typed.
	Echo bool `json:"echo"`
}

// Proto is a transport: "udp", "udp4", "udp6", "tcp", "tcp4" or "tcp6"
// ("tcp-client" and friends are normalised to the tcp forms).
type Proto string

// IsTCP reports whether the transport is TCP.
func (p Proto) IsTCP() bool { return strings.HasPrefix(string(p), "tcp") }

// Network returns the Go network name for net.Dial ("udp", "tcp4", ...).
func (p Proto) Network() string { return string(p) }

// parseProto normalises an OpenVPN proto name.
func parseProto(s string) (Proto, bool) {
	switch strings.ToLower(s) {
	case "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6":
		return Proto(strings.ToLower(s)), true
	case "tcp-client", "tcp4-client", "tcp6-client":
		return Proto(strings.TrimSuffix(strings.ToLower(s), "-client")), true
	}
	return "", false
}

// Remote is one server to connect to.
type Remote struct {
	Host  string `json:"host"`
	Port  int    `json:"port"`
	Proto Proto  `json:"proto"`
	// Line is the profile line of the remote directive.
	Line int `json:"-"`
}

// String formats the remote as "host:port/proto".
func (r Remote) String() string {
	host := r.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(r.Port) + "/" + string(r.Proto)
}

// GatewayKind says where a profile route points.
type GatewayKind = routeopt.GatewayKind

// Gateway kinds of a route.
const (
	VPNGateway      = routeopt.VPNGateway
	NetGateway      = routeopt.NetGateway
	RemoteHost      = routeopt.RemoteHost
	ExplicitGateway = routeopt.ExplicitGateway
)

// Route is a "route" or "route-ipv6" directive.
type Route = routeopt.Route

// IfconfigIPv6 is "ifconfig-ipv6 ADDR/BITS REMOTE".
type IfconfigIPv6 struct {
	Local  netip.Prefix `json:"local"`
	Remote netip.Addr   `json:"remote"`
}

// DHCPOption is a "dhcp-option TYPE [VALUE]" directive. Type is upper case
// (DNS, DNS6, DOMAIN, DOMAIN-SEARCH, ADAPTER_DOMAIN_SUFFIX, WINS, NBDD,
// NTP, NBS, NBT, DISABLE-NBT, DOMAIN-ROUTE, PROXY_HTTP, ...).
type DHCPOption struct {
	Type  string `json:"type"`
	Value string `json:"value,omitempty"`
}

// VerifyX509Name is "verify-x509-name NAME [TYPE]".
type VerifyX509Name struct {
	// Type is "subject" (the default), "name" or "name-prefix".
	Type string `json:"type"`
	Name string `json:"name"`
}

// PullFilter is a "pull-filter accept|ignore|reject TEXT" rule; rules
// apply in order to pushed options starting with Text.
type PullFilter struct {
	Action string `json:"action"`
	Text   string `json:"text"`
}

// Compression is the compression framing a profile asks for. Only framing
// without compression is supported.
type Compression int

const (
	// CompressionNone: no compression framing.
	CompressionNone Compression = iota
	// CompressionLZONo: "comp-lzo no", one framing byte 0xFA.
	CompressionLZONo
	// CompressionStub: "compress stub" (or "compress" with no algorithm).
	CompressionStub
	// CompressionStubV2: "compress stub-v2".
	CompressionStubV2
)

// String returns the profile spelling of the framing.
func (c Compression) String() string {
	switch c {
	case CompressionLZONo:
		return "comp-lzo no"
	case CompressionStub:
		return "compress stub"
	case CompressionStubV2:
		return "compress stub-v2"
	}
	return "none"
}

// MarshalText encodes the framing as its String form.
func (c Compression) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// EnvVar is one "setenv NAME VALUE".
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// KeyDirection is the tls-auth key direction.
type KeyDirection int

const (
	// KeyDirectionNone uses key slot 0 both ways (bidirectional).
	KeyDirectionNone KeyDirection = -1
	// KeyDirection0 sends with slot 0 and receives with slot 1 (servers).
	KeyDirection0 KeyDirection = 0
	// KeyDirection1 sends with slot 1 and receives with slot 0 (clients).
	KeyDirection1 KeyDirection = 1
)

// String returns "none", "0" or "1".
func (k KeyDirection) String() string {
	if k == KeyDirectionNone {
		return "none"
	}
	return strconv.Itoa(int(k))
}

func (p *Profile) hostList() string {
	var hs []string
	for _, r := range p.Remotes {
		hs = append(hs, r.String())
	}
	return strings.Join(hs, ", ")
}

// NegotiableCiphers returns the ciphers to offer the server (IV_CIPHERS):
// DataCiphers plus Cipher when it is set, not "none", and not already in
// the list, like OpenVPN 2.6.
func (p *Profile) NegotiableCiphers() []string {
	out := append([]string(nil), p.DataCiphers...)
	if p.Cipher != "" && !strings.EqualFold(p.Cipher, "none") && p.Cipher != "BF-CBC" {
		for _, c := range out {
			if c == p.Cipher {
				return out
			}
		}
		out = append(out, p.Cipher)
	}
	return out
}

func (p *Profile) String() string {
	return fmt.Sprintf("profile %s (%s)", p.Name, p.hostList())
}

// UnmarshalText decodes the String form.
func (c *Compression) UnmarshalText(b []byte) error {
	for _, v := range []Compression{CompressionNone, CompressionLZONo, CompressionStub, CompressionStubV2} {
		if v.String() == string(b) {
			*c = v
			return nil
		}
	}
	return fmt.Errorf("unknown compression %q", b)
}

// PullFilterAction returns what the profile's pull-filter rules say about
// a pushed option ("route 10.0.0.0 255.0.0.0"): "accept", "ignore" or
// "reject". The first rule whose text is a prefix of the option wins; with
// no matching rule the option is accepted. "reject" means the client must
// treat the push as fatal and reconnect, like OpenVPN.
func (p *Profile) PullFilterAction(option string) string {
	for _, f := range p.PullFilters {
		if strings.HasPrefix(option, f.Text) {
			return f.Action
		}
	}
	return "accept"
}
