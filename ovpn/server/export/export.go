package export

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/ovpn/server/users"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
)

// DefaultClient is the client certificate name `cvpn server init` issues.
const DefaultClient = "client1"

// Profile renders the profile of client (a certificate name in the PKI
// folder next to tls.ca; used only with mutual authentication).
func Profile(c *config.Config, client string) (string, error) {
	if client == "" {
		client = DefaultClient
	}
	ca, err := os.ReadFile(c.TLS.CA)
	if err != nil {
		return "", fmt.Errorf("tls.ca: %w", err)
	}
	srvPEM, err := os.ReadFile(c.TLS.Cert)
	if err != nil {
		return "", fmt.Errorf("tls.cert: %w", err)
	}
	srv, err := pki.ParseCertificatePEM(srvPEM)
	if err != nil {
		return "", fmt.Errorf("tls.cert %s: %w", c.TLS.Cert, err)
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("client")
	line("dev tun")
	line("proto %s", c.Transport)
	host := c.PublicHost()
	line("remote %s %s", host, c.Port())
	if _, err := netip.ParseAddr(host); err != nil {
		line("remote-random-hostname")
	}
	line("resolv-retry infinite")
	line("nobind")
	line("remote-cert-tls server")
	line("cipher %s", c.Ciphers[0])
	if !slices.Contains(config.DefaultDataCiphers, c.Ciphers[0]) {
		line("data-ciphers %s", strings.Join(c.Ciphers, ":"))
	}
	if c.Digest != "SHA1" {
		line("auth %s", c.Digest)
	}
	line("verb 3")
	block := func(name string, data []byte) {
		line("<%s>", name)
		b.Write(bytes.TrimSpace(data))
		line("\n</%s>", name)
	}
	block("ca", ca)
	if c.Authentication.Mutual {
		dir := filepath.Dir(c.TLS.CA)
		cert, err := os.ReadFile(filepath.Join(dir, client+".crt"))
		if err != nil {
			return "", fmt.Errorf("client certificate %q: %w (issue one into %s)", client, err, dir)
		}
		key, err := os.ReadFile(filepath.Join(dir, client+".key"))
		if err != nil {
			return "", fmt.Errorf("client key %q: %w", client, err)
		}
		block("cert", cert)
		block("key", key)
	}
	switch {
	case c.TLS.TLSCryptV2 != "":
		// Each export is a new client key, wrapped with the server key and
		// stamped with its generation time (for tls_crypt_v2_max_age).
		data, err := os.ReadFile(c.TLS.TLSCryptV2)
		if err != nil {
			return "", fmt.Errorf("tls.tls_crypt_v2: %w", err)
		}
		sk, err := tlswrap.ParseV2ServerKey(data)
		if err != nil {
			return "", fmt.Errorf("tls.tls_crypt_v2 %s: %w", c.TLS.TLSCryptV2, err)
		}
		k, err := sk.NewClientKeyPEM(nil, time.Now())
		if err != nil {
			return "", fmt.Errorf("tls-crypt-v2 client key: %w", err)
		}
		block("tls-crypt-v2", k)
	case c.TLS.TLSAuth != "":
		k, err := os.ReadFile(c.TLS.TLSAuth)
		if err != nil {
			return "", fmt.Errorf("tls.tls_auth: %w", err)
		}
		line("key-direction 1")
		block("tls-auth", k)
	case c.TLS.TLSCrypt != "":
		k, err := os.ReadFile(c.TLS.TLSCrypt)
		if err != nil {
			return "", fmt.Errorf("tls.tls_crypt: %w", err)
		}
		block("tls-crypt", k)
	}
	if c.Authentication.UsersFile != "" {
		line("auth-user-pass")
		d, err := users.Load(c.Authentication.UsersFile)
		if err != nil {
			return "", err
		}
		if d.AnyMFA() {
			line(`static-challenge "Enter MFA code " 1`)
		}
	}
	if c.Authentication.SAMLIdPMetadata != "" {
		line("auth-user-pass")
		line("auth-federate")
	}
	line("reneg-sec 0")
	line("verify-x509-name %s name", srv.Subject.CommonName)
	return b.String(), nil
}
