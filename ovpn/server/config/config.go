package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/dnsopt"
)

// Limits of the endpoint (the AWS quotas and constraints it imitates).
const (
	MinClientPrefix = 12
	MaxClientPrefix = 22
	MaxDNSServers   = 2
	MaxDNSDomains   = 16
	// DefaultWebAuthPort is the sign-in page's port with web_auth.
	DefaultWebAuthPort = 8080
	MaxBannerChars     = 1400
	MaxRoutes          = 10
	MaxAuthzRules      = 50
	DefaultListen      = "0.0.0.0:443"
	DefaultClientCIDR  = "10.100.0.0/22"
	DefaultTimeoutH    = 24
	DefaultRenegSec    = 3600
	DefaultPing        = 10
	DefaultPingReset   = 60
)

// DefaultDataCiphers is the data_ciphers default.
var DefaultDataCiphers = []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"}

// File is the TOML document as written by the administrator.
type File struct {
	EndpointID             string   `toml:"endpoint_id"`
	Listen                 string   `toml:"listen"`
	Transport              string   `toml:"transport"`
	PublicAddress          string   `toml:"public_address"`
	ClientCIDR             string   `toml:"client_cidr"`
	SplitTunnel            bool     `toml:"split_tunnel"`
	DNSServers             []string `toml:"dns_servers"`
	SessionTimeoutHours    int      `toml:"session_timeout_hours"`
	ClientRouteEnforcement bool     `toml:"client_route_enforcement"`
	LoginBanner            string   `toml:"login_banner"`
	DataCiphers            []string `toml:"data_ciphers"`
	// Extensions beyond the contract (all optional).
	Auth        string `toml:"auth"`         // HMAC digest for CBC ciphers and tls-auth (default SHA1)
	RenegSec    *int   `toml:"reneg_sec"`    // server-initiated renegotiation, 0 = never (default 3600)
	Ping        int    `toml:"ping"`         // pushed ping seconds (default 10)
	PingRestart int    `toml:"ping_restart"` // pushed ping-restart seconds (default 60)

	TLS                  TLSFile     `toml:"tls"`
	Authentication       AuthFile    `toml:"authentication"`
	Routes               []RouteFile `toml:"routes"`
	AuthorizationRules   []RuleFile  `toml:"authorization_rules"`
	ClientConnectHandler HandlerFile `toml:"client_connect_handler"`
	ConnectionLog        ConnLogFile `toml:"connection_log"`
	Metrics              MetricsFile `toml:"metrics"`
	Admin                AdminFile   `toml:"admin"`
	DNSTable             DNSFile     `toml:"dns"`
}

// DNSFile is the optional [dns] table: search domains and split DNS for
// dns_servers. Clients that understand the dns option (IV_PROTO bit 11)
// get `dns search-domains` and `dns server 0 resolve-domains`; the others
// get dhcp-option DOMAIN / DOMAIN-SEARCH and DOMAIN-ROUTE.
type DNSFile struct {
	SearchDomains  []string `toml:"search_domains"`
	ResolveDomains []string `toml:"resolve_domains"`
}

// TLSFile is the [tls] table.
type TLSFile struct {
	CA       string `toml:"ca"`
	Cert     string `toml:"cert"`
	Key      string `toml:"key"`
	CRL      string `toml:"crl"`
	TLSAuth  string `toml:"tls_auth"`
	TLSCrypt string `toml:"tls_crypt"`
	// TLSCryptV2 is a tls-crypt-v2 server key: clients with a client key
	// wrapped by it use their own tls-crypt key (alone, or besides
	// tls_auth/tls_crypt for the other clients).
	TLSCryptV2 string `toml:"tls_crypt_v2"`
	// TLSCryptV2MaxAge, in days, refuses client keys older than that or
	// without a timestamp (OpenVPN's --tls-crypt-v2-max-age); 0 = no limit.
	TLSCryptV2MaxAge int `toml:"tls_crypt_v2_max_age"`
}

// AuthFile is the [authentication] table.
type AuthFile struct {
	Mutual          bool   `toml:"mutual"`
	UsersFile       string `toml:"users_file"`
	SAMLIdPMetadata string `toml:"saml_idp_metadata"`
	// WebAuth adds a web sign-in after the password (users_file): the
	// server sends AUTH_PENDING with WEB_AUTH and a page of its own, served
	// on WebAuthListen (default: the listen address's IP, port 8080), where
	// the user signs in with the password again.
	WebAuth       bool   `toml:"web_auth"`
	WebAuthListen string `toml:"web_auth_listen"`
}

// RouteFile is one [[routes]] entry.
type RouteFile struct {
	Destination string `toml:"destination"`
}

// RuleFile is one [[authorization_rules]] entry.
type RuleFile struct {
	Destination string `toml:"destination"`
	AccessGroup string `toml:"access_group"`
}

// HandlerFile is the [client_connect_handler] table.
type HandlerFile struct {
	Command []string `toml:"command"`
	URL     string   `toml:"url"`
}

// ConnLogFile is the [connection_log] table.
type ConnLogFile struct {
	Path string `toml:"path"`
}

// MetricsFile is the [metrics] table.
type MetricsFile struct {
	Listen string `toml:"listen"`
}

// AdminFile is the [admin] table.
type AdminFile struct {
	Socket string `toml:"socket"`
}

// Rule is a validated authorization rule.
type Rule struct {
	Destination netip.Prefix
	Group       string // "" = all users
}

// Config is a loaded, validated configuration. Paths are absolute.
type Config struct {
	File
	// Path is the configuration file.
	Path string
	// ListenAddr is Listen parsed.
	ListenAddr netip.AddrPort
	// TCP is true for transport = "tcp".
	TCP bool
	// ClientPrefix is client_cidr, masked.
	ClientPrefix netip.Prefix
	// RoutePrefixes are the [[routes]] destinations.
	RoutePrefixes []netip.Prefix
	// DNS are dns_servers parsed.
	DNS []netip.Addr
	// Rules are the authorization rules parsed.
	Rules []Rule
	// Ciphers are data_ciphers, canonical names.
	Ciphers []string
	// Digest is the auth digest name ("SHA1" when not set).
	Digest string
}

// RenegInterval returns reneg_sec (0 = never).
func (c *Config) RenegInterval() int {
	if c.RenegSec == nil {
		return DefaultRenegSec
	}
	return *c.RenegSec
}

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the server configuration: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return Parse(abs, data)
}

// Parse validates a configuration document; path names it in errors and
// anchors relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var f File
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s (known keys are listed in `cvpn server init`'s server.toml)", path, strings.Join(keys, ", "))
	}
	c := &Config{File: f, Path: path}
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s: %s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	dir := filepath.Dir(path)
	if c.EndpointID == "" {
		c.EndpointID = "cvpn-endpoint-lab"
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if ap, err := netip.ParseAddrPort(c.Listen); err != nil {
		bad("listen", "%q is not ADDRESS:PORT (for example 0.0.0.0:443)", c.Listen)
	} else {
		c.ListenAddr = ap
	}
	switch strings.ToLower(c.Transport) {
	case "", "udp":
		c.Transport = "udp"
	case "tcp":
		c.Transport, c.TCP = "tcp", true
	default:
		bad("transport", "%q is neither udp nor tcp", c.Transport)
	}
	if c.ClientCIDR == "" {
		bad("client_cidr", "missing (for example %q)", DefaultClientCIDR)
	} else if p, err := netip.ParsePrefix(c.ClientCIDR); err != nil || !p.Addr().Is4() {
		bad("client_cidr", "%q is not an IPv4 CIDR block", c.ClientCIDR)
	} else if p.Bits() < MinClientPrefix || p.Bits() > MaxClientPrefix {
		bad("client_cidr", "%s is outside /%d../%d (the client CIDR must hold between 1,024 and 1,048,576 addresses)", p, MinClientPrefix, MaxClientPrefix)
	} else {
		c.ClientPrefix = p.Masked()
	}
	if len(c.Routes) > MaxRoutes {
		bad("routes", "%d routes, at most %d", len(c.Routes), MaxRoutes)
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d].destination", i)
		p, err := netip.ParsePrefix(r.Destination)
		if err != nil || !p.Addr().Is4() {
			bad(key, "%q is not an IPv4 CIDR block", r.Destination)
			continue
		}
		p = p.Masked()
		if c.ClientPrefix.IsValid() && p.Overlaps(c.ClientPrefix) {
			bad(key, "%s overlaps client_cidr %s", p, c.ClientPrefix)
			continue
		}
		c.RoutePrefixes = append(c.RoutePrefixes, p)
	}
	if len(c.DNSServers) > MaxDNSServers {
		bad("dns_servers", "%d servers, at most %d", len(c.DNSServers), MaxDNSServers)
	}
	for i, s := range c.DNSServers {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is4() {
			bad(fmt.Sprintf("dns_servers[%d]", i), "%q is not an IPv4 address", s)
			continue
		}
		c.DNS = append(c.DNS, a)
	}
	for _, kd := range []struct {
		key string
		ds  []string
	}{{"dns.search_domains", c.DNSTable.SearchDomains}, {"dns.resolve_domains", c.DNSTable.ResolveDomains}} {
		key, ds := kd.key, kd.ds
		if len(ds) > MaxDNSDomains {
			bad(key, "%d domains, at most %d", len(ds), MaxDNSDomains)
		}
		for i, d := range ds {
			if !dnsopt.ValidDomain(d) {
				bad(fmt.Sprintf("%s[%d]", key, i), "%q is not a domain name", d)
			}
		}
	}
	if len(c.DNSTable.ResolveDomains) > 0 && len(c.DNSServers) == 0 {
		bad("dns.resolve_domains", "needs dns_servers: the domains are resolved by those servers")
	}
	if c.Authentication.WebAuth {
		if c.Authentication.UsersFile == "" {
			bad("authentication.web_auth", "needs authentication.users_file: the sign-in page checks the user's password")
		}
		if c.Authentication.WebAuthListen == "" && c.ListenAddr.IsValid() {
			c.Authentication.WebAuthListen = netip.AddrPortFrom(c.ListenAddr.Addr(), DefaultWebAuthPort).String()
		}
		if _, err := netip.ParseAddrPort(c.Authentication.WebAuthListen); err != nil {
			bad("authentication.web_auth_listen", "%q is not ADDRESS:PORT", c.Authentication.WebAuthListen)
		}
	}
	if c.SessionTimeoutHours == 0 {
		c.SessionTimeoutHours = DefaultTimeoutH
	}
	switch c.SessionTimeoutHours {
	case 8, 10, 12, 24:
	default:
		bad("session_timeout_hours", "%d is not one of 8, 10, 12, 24", c.SessionTimeoutHours)
	}
	if !utf8.ValidString(c.LoginBanner) {
		bad("login_banner", "not valid UTF-8")
	} else if n := utf8.RuneCountInString(c.LoginBanner); n > MaxBannerChars {
		bad("login_banner", "%d characters, at most %d", n, MaxBannerChars)
	}
	if len(c.DataCiphers) == 0 {
		c.DataCiphers = append([]string(nil), DefaultDataCiphers...)
	}
	for i, name := range c.DataCiphers {
		ci, err := datachannel.ParseCipher(name)
		if err != nil || ci == datachannel.CipherNone {
			bad(fmt.Sprintf("data_ciphers[%d]", i), "unsupported cipher %q (AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305, AES-128-CBC, AES-256-CBC)", name)
			continue
		}
		c.Ciphers = append(c.Ciphers, ci.String())
	}
	c.Digest = "SHA1"
	if c.Auth != "" {
		a, err := datachannel.ParseAuth(c.Auth)
		if err != nil || a == datachannel.AuthNone {
			bad("auth", "unsupported digest %q (SHA1, SHA256, SHA512)", c.Auth)
		} else {
			c.Digest = a.String()
		}
	}
	if c.RenegSec != nil && *c.RenegSec < 0 {
		bad("reneg_sec", "%d is negative", *c.RenegSec)
	}
	if c.Ping == 0 {
		c.Ping = DefaultPing
	}
	if c.PingRestart == 0 {
		c.PingRestart = DefaultPingReset
	}
	if c.Ping < 1 || c.PingRestart <= c.Ping {
		bad("ping_restart", "ping %d and ping_restart %d: both positive and ping_restart longer than ping", c.Ping, c.PingRestart)
	}

	file := func(key string, p *string, required bool) {
		if *p == "" {
			if required {
				bad(key, "missing")
			}
			return
		}
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
		if st, err := os.Stat(*p); err != nil {
			bad(key, "%s: %v", *p, errors.Unwrap(err))
		} else if st.IsDir() {
			bad(key, "%s is a folder, not a file", *p)
		}
	}
	file("tls.ca", &c.TLS.CA, true)
	file("tls.cert", &c.TLS.Cert, true)
	file("tls.key", &c.TLS.Key, true)
	file("tls.crl", &c.TLS.CRL, false)
	file("tls.tls_auth", &c.TLS.TLSAuth, false)
	file("tls.tls_crypt", &c.TLS.TLSCrypt, false)
	if c.TLS.TLSAuth != "" && c.TLS.TLSCrypt != "" {
		bad("tls.tls_crypt", "tls_auth and tls_crypt are exclusive; set one")
	}
	file("tls.tls_crypt_v2", &c.TLS.TLSCryptV2, false)
	if c.TLS.TLSCryptV2MaxAge < 0 {
		bad("tls.tls_crypt_v2_max_age", "%d: want a number of days, 0 for no limit", c.TLS.TLSCryptV2MaxAge)
	} else if c.TLS.TLSCryptV2MaxAge > 0 && c.TLS.TLSCryptV2 == "" {
		bad("tls.tls_crypt_v2_max_age", "set without tls_crypt_v2")
	}
	file("authentication.users_file", &c.Authentication.UsersFile, false)
	file("authentication.saml_idp_metadata", &c.Authentication.SAMLIdPMetadata, false)
	if !c.Authentication.Mutual && c.Authentication.UsersFile == "" && c.Authentication.SAMLIdPMetadata == "" {
		bad("authentication", "no authentication: set mutual = true, users_file or saml_idp_metadata")
	}
	if c.Authentication.UsersFile != "" && c.Authentication.SAMLIdPMetadata != "" {
		bad("authentication", "users_file and saml_idp_metadata are exclusive (AWS allows mutual + one of them)")
	}

	if len(c.AuthorizationRules) > MaxAuthzRules {
		bad("authorization_rules", "%d rules, at most %d", len(c.AuthorizationRules), MaxAuthzRules)
	}
	userAuth := c.Authentication.UsersFile != "" || c.Authentication.SAMLIdPMetadata != ""
	for i, r := range c.AuthorizationRules {
		key := fmt.Sprintf("authorization_rules[%d]", i)
		p, err := netip.ParsePrefix(r.Destination)
		if err != nil || !p.Addr().Is4() {
			bad(key+".destination", "%q is not an IPv4 CIDR block", r.Destination)
			continue
		}
		if r.AccessGroup != "" && !userAuth {
			bad(key+".access_group", "group rules need user-based authentication (users_file or saml_idp_metadata); mutual-only endpoints can only use all-users rules")
			continue
		}
		if len(r.AccessGroup) > 255 {
			bad(key+".access_group", "longer than 255 characters")
			continue
		}
		c.Rules = append(c.Rules, Rule{Destination: p.Masked(), Group: r.AccessGroup})
	}

	h := c.ClientConnectHandler
	if len(h.Command) > 0 && h.URL != "" {
		bad("client_connect_handler", "command and url are exclusive; set one")
	}
	if h.URL != "" && !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
		bad("client_connect_handler.url", "%q is not an http:// or https:// URL", h.URL)
	}
	if len(h.Command) > 0 && h.Command[0] == "" {
		bad("client_connect_handler.command", "empty program name")
	}
	if len(h.Command) > 0 && !filepath.IsAbs(h.Command[0]) && strings.Contains(h.Command[0], "/") {
		c.ClientConnectHandler.Command[0] = filepath.Join(dir, h.Command[0])
	}
	if p := c.ConnectionLog.Path; p != "" && p != "-" && !filepath.IsAbs(p) {
		c.ConnectionLog.Path = filepath.Join(dir, p)
	}
	if l := c.Metrics.Listen; l != "" {
		if _, err := netip.ParseAddrPort(l); err != nil {
			bad("metrics.listen", "%q is not ADDRESS:PORT (for example 127.0.0.1:9464)", l)
		}
	}
	if s := c.Admin.Socket; s != "" && !filepath.IsAbs(s) {
		c.Admin.Socket = filepath.Join(dir, s)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return c, nil
}

// PublicHost is the host clients dial: public_address, else the listen
// address (127.0.0.1 when it listens on all addresses).
func (c *Config) PublicHost() string {
	if c.PublicAddress != "" {
		return c.PublicAddress
	}
	if c.ListenAddr.Addr().IsUnspecified() {
		return "127.0.0.1"
	}
	return c.ListenAddr.Addr().String()
}

// Port returns the listen port as text.
func (c *Config) Port() string { return strconv.Itoa(int(c.ListenAddr.Port())) }
