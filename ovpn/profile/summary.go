package profile

import (
	"fmt"
	"io"
	"strings"
)

// Summary is the stable JSON description of a profile printed by
// "cvpn profile show --json". It never contains key material: private keys
// and static keys are reported only as present or absent.
type Summary struct {
	// Name is the profile name (stored name or file path).
	Name string `json:"name"`
	// Remotes are the servers in connection order.
	Remotes []Remote `json:"remotes"`
	// RemoteRandomHostname: a random label is prepended before DNS lookups.
	RemoteRandomHostname bool `json:"remote_random_hostname"`
	// Auth lists the authentication methods: certificate, user-pass,
	// static-challenge, federated.
	Auth []string `json:"auth"`
	// StaticChallenge is the MFA prompt, when there is one.
	StaticChallenge *StaticChallenge `json:"static_challenge,omitempty"`
	// CA describes every CA certificate.
	CA []CertInfo `json:"ca"`
	// ClientCertificate describes the client certificate (mutual auth).
	ClientCertificate *CertInfo `json:"client_certificate,omitempty"`
	// PrivateKey is true when the profile carries a private key.
	PrivateKey bool `json:"private_key"`
	// ControlKey is "tls-auth", "tls-crypt", "tls-crypt-v2" or "" (none).
	ControlKey string `json:"control_key,omitempty"`
	// KeyDirection is the tls-auth key direction: "none", "0" or "1".
	KeyDirection string `json:"key_direction,omitempty"`
	// Cipher is the "cipher" directive, if any.
	Cipher string `json:"cipher,omitempty"`
	// DataCiphers is the list offered to the server.
	DataCiphers []string `json:"data_ciphers"`
	// Digest is the HMAC digest ("auth").
	Digest string `json:"digest"`
	// Routes and RoutesIPv6 are the profile's own routes.
	Routes     []Route `json:"routes"`
	RoutesIPv6 []Route `json:"routes_ipv6"`
	// IfconfigIPv6 is the static IPv6 tunnel address (leak prevention).
	IfconfigIPv6 *IfconfigIPv6 `json:"ifconfig_ipv6,omitempty"`
	// DHCPOptions are DNS servers, domains and the like.
	DHCPOptions []DHCPOption `json:"dhcp_options"`
	// RemoteCertTLS is "server" when the server certificate usage is checked.
	RemoteCertTLS string `json:"remote_cert_tls,omitempty"`
	// VerifyX509Name is the server name check.
	VerifyX509Name *VerifyX509Name `json:"verify_x509_name,omitempty"`
	// PullFilters are the pushed-option filters in order.
	PullFilters []PullFilter `json:"pull_filters"`
	// Timers in whole seconds (0 = off).
	RenegSeconds       int `json:"reneg_seconds"`
	PingSeconds        int `json:"ping_seconds"`
	PingRestartSeconds int `json:"ping_restart_seconds"`
	InactiveSeconds    int `json:"inactive_seconds"`
	// Compression is the compression framing ("none", "comp-lzo no", ...).
	Compression Compression `json:"compression"`
	TunMTU      int         `json:"tun_mtu"`
	MSSFix      int         `json:"mssfix"`
	// MSSFixMode says what MSSFix counts: "mtu" (the whole encapsulated
	// packet with its outer IP and UDP/TCP header), "link" (without that
	// header) or "fixed" (the inner IP packet). MSSFixByMTU is true when
	// the profile gives no size: the clamp then follows the tunnel MTU.
	MSSFixMode  string `json:"mssfix_mode"`
	MSSFixByMTU bool   `json:"mssfix_default"`
}

// Summary describes the profile without key material.
func (p *Profile) Summary() Summary {
	s := Summary{
		Name:                 p.Name,
		Remotes:              nonNil(p.Remotes),
		RemoteRandomHostname: p.RemoteRandomHostname,
		Auth:                 nonNil(p.Auth.Names()),
		StaticChallenge:      p.StaticChallenge,
		CA:                   []CertInfo{},
		PrivateKey:           p.ClientCert != nil,
		Cipher:               p.Cipher,
		DataCiphers:          nonNil(p.DataCiphers),
		Digest:               p.Digest,
		Routes:               nonNil(p.Routes),
		RoutesIPv6:           nonNil(p.RoutesIPv6),
		IfconfigIPv6:         p.IfconfigIPv6,
		DHCPOptions:          nonNil(p.DHCPOptions),
		RemoteCertTLS:        p.RemoteCertTLS,
		VerifyX509Name:       p.VerifyX509Name,
		PullFilters:          nonNil(p.PullFilters),
		RenegSeconds:         int(p.RenegInterval.Seconds()),
		PingSeconds:          int(p.Ping.Seconds()),
		PingRestartSeconds:   int(p.PingRestart.Seconds()),
		InactiveSeconds:      int(p.Inactive.Seconds()),
		Compression:          p.Compression,
		TunMTU:               p.TunMTU,
		MSSFix:               p.MSSFix,
		MSSFixMode:           p.MSSFixMode,
		MSSFixByMTU:          p.MSSFixDefault,
	}
	if s.MSSFixMode == "" {
		s.MSSFixMode = "link"
	}
	for _, c := range p.CA {
		s.CA = append(s.CA, NewCertInfo(c))
	}
	if len(p.CertChain) > 0 {
		ci := NewCertInfo(p.CertChain[0])
		s.ClientCertificate = &ci
	}
	switch {
	case p.TLSAuth != nil:
		s.ControlKey = "tls-auth"
		s.KeyDirection = p.KeyDirection.String()
	case p.TLSCrypt != nil:
		s.ControlKey = "tls-crypt"
	case p.TLSCryptV2 != nil:
		s.ControlKey = "tls-crypt-v2"
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteText prints the summary for people, one "field: value" per line.
func (s Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	f := func(k, format string, a ...any) { fmt.Fprintf(&b, "%-16s %s\n", k+":", fmt.Sprintf(format, a...)) }
	f("name", "%s", s.Name)
	for i, r := range s.Remotes {
		f(fmt.Sprintf("remote %d", i+1), "%s", r)
	}
	if s.RemoteRandomHostname {
		f("remote-random", "yes (random label before each DNS lookup)")
	}
	f("auth", "%s", strings.Join(s.Auth, ", "))
	if s.StaticChallenge != nil {
		f("challenge", "%q (echo %v)", s.StaticChallenge.Text, s.StaticChallenge.Echo)
	}
	for _, c := range s.CA {
		f("ca", "%s (valid %s to %s)", c.Subject, c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02"))
	}
	if c := s.ClientCertificate; c != nil {
		f("certificate", "%s (valid %s to %s)", c.Subject, c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02"))
	}
	if s.PrivateKey {
		f("private key", "present (not shown)")
	}
	if s.ControlKey != "" {
		extra := ""
		if s.KeyDirection != "" {
			extra = ", key direction " + s.KeyDirection
		}
		f("control key", "%s present (not shown%s)", s.ControlKey, extra)
	}
	if s.Cipher != "" {
		f("cipher", "%s", s.Cipher)
	}
	f("data-ciphers", "%s", strings.Join(s.DataCiphers, ":"))
	for _, r := range s.Routes {
		f("route", "%s", r)
	}
	for _, r := range s.RoutesIPv6 {
		f("route-ipv6", "%s", r)
	}
	if s.IfconfigIPv6 != nil {
		f("ifconfig-ipv6", "%s remote %s", s.IfconfigIPv6.Local, s.IfconfigIPv6.Remote)
	}
	for _, o := range s.DHCPOptions {
		f("dhcp-option", "%s %s", o.Type, o.Value)
	}
	if s.VerifyX509Name != nil {
		f("verify-name", "%s %q", s.VerifyX509Name.Type, s.VerifyX509Name.Name)
	}
	for _, pf := range s.PullFilters {
		f("pull-filter", "%s %q", pf.Action, pf.Text)
	}
	f("reneg-sec", "%d", s.RenegSeconds)
	if s.Compression != CompressionNone {
		f("compression", "%s (framing only)", s.Compression)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
