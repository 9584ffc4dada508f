package profile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ParseCertificates reads every CERTIFICATE block of a PEM bundle.
func ParseCertificates(text []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := text
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
		default:
			return nil, fmt.Errorf("PEM block %d is %q, expected CERTIFICATE", n, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d is not a valid certificate: %v", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if strings.Contains(string(text), "-----BEGIN") {
			return nil, errors.New("the PEM data is damaged (check the BEGIN/END lines and the base64 between them)")
		}
		return nil, errors.New("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)")
	}
	return certs, nil
}

// ParsePrivateKey reads an unencrypted PEM private key (PKCS#1 RSA, SEC 1
// EC or PKCS#8). Error messages never contain key material.
func ParsePrivateKey(text []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(text)
	if blk == nil {
		if strings.Contains(string(text), "-----BEGIN") {
			return nil, errors.New("the PEM private key is damaged (check the BEGIN/END lines and the base64 between them)")
		}
		return nil, errors.New("no PEM private key found (expected -----BEGIN PRIVATE KEY-----)")
	}
	if blk.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(blk.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, errors.New("the private key is encrypted with a passphrase, which cvpn does not support; decrypt it with: openssl pkey -in KEY -out KEY.plain")
	}
	var (
		key any
		err error
	)
	switch blk.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("PEM block is %q, expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("the %s block is not a valid private key", blk.Type)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// keyMatches reports whether the private key belongs to the certificate.
func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// newTLSCertificate builds the crypto/tls form of a client certificate.
func newTLSCertificate(chain []*x509.Certificate, key crypto.Signer) *tls.Certificate {
	tc := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// CertInfo describes a certificate for people and scripts.
type CertInfo struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// SHA256 is the fingerprint of the DER certificate, lower-case hex.
	SHA256 string `json:"sha256"`
}

// NewCertInfo describes c.
func NewCertInfo(c *x509.Certificate) CertInfo {
	sum := sha256.Sum256(c.Raw)
	return CertInfo{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		Serial:    c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		SHA256:    hex.EncodeToString(sum[:]),
	}
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}
