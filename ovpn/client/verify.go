package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/cvpn/cvpn/ovpn/profile"
)

// tlsConfig builds the control channel TLS configuration from a profile.
// OpenVPN does not check the server's host name; it checks the chain
// against the profile's CA, the extended key usage (remote-cert-tls
// server) and optionally the subject (verify-x509-name).
func tlsConfig(p *profile.Profile) (*tls.Config, error) {
	if len(p.CA) == 0 {
		return nil, fmt.Errorf("%s: no CA certificate (add a <ca> block or a ca line)", p.Name)
	}
	roots := x509.NewCertPool()
	for _, c := range p.CA {
		roots.AddCert(c)
	}
	cfg := &tls.Config{
		MinVersion:                  tls.VersionTLS12,
		InsecureSkipVerify:          true, // replaced by VerifyConnection below
		DynamicRecordSizingDisabled: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(p, roots, cs.PeerCertificates)
		},
	}
	if p.ClientCert != nil {
		cfg.Certificates = []tls.Certificate{*p.ClientCert}
	}
	return cfg, nil
}

func verifyServer(p *profile.Profile, roots *x509.CertPool, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	if p.RemoteCertTLS == "server" {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: usages}); err != nil {
		return fmt.Errorf("server certificate %q is not trusted by the profile's CA: %w", leaf.Subject.CommonName, err)
	}
	if p.RemoteCertTLS == "server" {
		if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement) == 0 {
			return fmt.Errorf("server certificate %q has no key usage allowed by remote-cert-tls server", leaf.Subject.CommonName)
		}
	}
	if v := p.VerifyX509Name; v != nil {
		cn := leaf.Subject.CommonName
		switch v.Type {
		case "name":
			if cn != v.Name {
				return fmt.Errorf("server certificate name %q does not match verify-x509-name %q", cn, v.Name)
			}
		case "name-prefix":
			if !strings.HasPrefix(cn, v.Name) {
				return fmt.Errorf("server certificate name %q does not start with verify-x509-name %q", cn, v.Name)
			}
		default: // subject
			if got := SubjectString(leaf); got != v.Name {
				return fmt.Errorf("server certificate subject %q does not match verify-x509-name %q", got, v.Name)
			}
		}
	}
	return nil
}

// SubjectString formats a certificate subject the way OpenVPN 2.6 prints it
// for verify-x509-name: "C=US, ST=CA, L=City, O=Org, OU=Unit, CN=name",
// in the order the attributes appear in the certificate.
func SubjectString(c *x509.Certificate) string {
	names := map[string]string{
		"2.5.4.6": "C", "2.5.4.8": "ST", "2.5.4.7": "L", "2.5.4.10": "O", "2.5.4.11": "OU",
		"2.5.4.3": "CN", "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.5": "serialNumber",
		"2.5.4.42": "GN", "2.5.4.4": "SN", "2.5.4.12": "title", "2.5.4.46": "dnQualifier",
		"0.9.2342.19200300.100.1.25": "DC", "2.5.4.9": "street", "2.5.4.17": "postalCode",
	}
	var parts []string
	for _, atv := range c.Subject.Names {
		k, ok := names[atv.Type.String()]
		if !ok {
			k = atv.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, atv.Value))
	}
	return strings.Join(parts, ", ")
}
