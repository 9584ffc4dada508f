package openvpnpeer

import (
	"fmt"
	"strconv"
	"strings"
)

// ClientProfile renders a self-contained .ovpn profile matching the server:
// remote, proto, ciphers, control channel wrap, auth-user-pass when the
// server checks users, and the CA, optional client certificate and static
// key inline. cfg.PKI must be set (StartServer fills it in).
func (c ServerConfig) ClientProfile(o ProfileOptions) (string, error) {
	c.applyDefaults()
	if c.PKI == nil {
		return "", fmt.Errorf("openvpnpeer: ClientProfile: ServerConfig.PKI is nil")
	}
	remote := o.Remote
	if remote == "" {
		if !c.Listen.IsValid() {
			return "", fmt.Errorf("openvpnpeer: ClientProfile: ServerConfig.Listen is unset and ProfileOptions.Remote is empty")
		}
		remote = c.Listen.String()
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("client")
	w("dev tun")
	w("proto %s", c.Proto)
	w("remote %s %d", remote, c.Port)
	w("nobind")
	w("remote-cert-tls server")
	w("data-ciphers %s", strings.Join(c.DataCiphers, ":"))
	if c.Auth != "" {
		w("auth %s", c.Auth)
	}
	if len(c.Users) > 0 {
		w("auth-user-pass")
	}
	if o.StaticChallenge != "" {
		echo := 0
		if o.StaticChallengeEcho {
			echo = 1
		}
		w("static-challenge %s %d", strconv.Quote(o.StaticChallenge), echo)
	}
	w("verb 3")
	for _, e := range o.Extra {
		w("%s", e)
	}
	inline := func(tag string, data []byte) {
		w("<%s>\n%s</%s>", tag, strings.TrimRight(string(data), "\n")+"\n", tag)
	}
	inline("ca", c.PKI.CA.CertPEM)
	if o.ClientCert != "" {
		cert := c.PKI.Client(o.ClientCert)
		if cert == nil {
			return "", fmt.Errorf("openvpnpeer: ClientProfile: no client certificate %q in the PKI", o.ClientCert)
		}
		inline("cert", cert.CertPEM)
		inline("key", cert.KeyPEM)
	}
	switch c.Wrap {
	case WrapTLSAuth:
		w("key-direction 1")
		inline("tls-auth", c.PKI.TLSAuth.PEM())
	case WrapTLSCrypt:
		inline("tls-crypt", c.PKI.TLSCrypt.PEM())
	}
	return b.String(), nil
}
