package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// KeyType selects the key algorithm of generated certificates.
type KeyType int

const (
	// RSA2048 is a 2048-bit RSA key (the default).
	RSA2048 KeyType = iota
	// ECDSAP256 is an ECDSA key on the NIST P-256 curve.
	ECDSAP256
)

// String returns "rsa2048" or "ecdsa-p256".
func (k KeyType) String() string {
	switch k {
	case RSA2048:
		return "rsa2048"
	case ECDSAP256:
		return "ecdsa-p256"
	default:
		return fmt.Sprintf("KeyType(%d)", int(k))
	}
}

// Default validity periods.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 825 * 24 * time.Hour
	// backdate is subtracted from "now" for NotBefore so that peers with a
	// slightly slow clock accept fresh certificates.
	backdate = time.Hour
)

// Options control key generation and validity. The zero value is usable:
// RSA 2048, time.Now, crypto/rand, default validity periods.
type Options struct {
	// KeyType is the algorithm for every key generated with these options.
	KeyType KeyType
	// Now is the clock; NotBefore is Now()-1h and NotAfter is
	// Now()+Validity. Nil means time.Now.
	Now func() time.Time
	// Rand is used for serial numbers, signatures and (where the standard
	// library still honours a caller's reader) key generation. Nil means
	// crypto/rand.Reader.
	Rand io.Reader
	// CAValidity and LeafValidity override the default lifetimes.
	CAValidity   time.Duration
	LeafValidity time.Duration
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

func (o Options) caValidity() time.Duration {
	if o.CAValidity > 0 {
		return o.CAValidity
	}
	return DefaultCAValidity
}

func (o Options) leafValidity() time.Duration {
	if o.LeafValidity > 0 {
		return o.LeafValidity
	}
	return DefaultLeafValidity
}

// Cert is a certificate with its private key, parsed and PEM-encoded.
type Cert struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte // PKCS#8 "PRIVATE KEY"
}

// CA is a certificate authority able to issue certificates and CRLs.
type CA struct {
	Cert
	// Options supply the clock, random source and key type of the
	// certificates and CRLs the CA issues.
	Options Options
}

// NewCA creates a self-signed CA with the given common name.
func NewCA(commonName string, opts Options) (*CA, error) {
	if commonName == "" {
		return nil, errors.New("pki: CA common name is empty")
	}
	key, err := newKey(opts.KeyType, opts.rand())
	if err != nil {
		return nil, err
	}
	serial, err := newSerial(opts.rand())
	if err != nil {
		return nil, err
	}
	now := opts.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(opts.caValidity()),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	c, err := sign(tmpl, tmpl, key.Public(), key, key, opts.rand())
	if err != nil {
		return nil, fmt.Errorf("pki: CA %q: %w", commonName, err)
	}
	return &CA{Cert: *c, Options: opts}, nil
}

// IssueServer issues an OpenVPN server certificate: extended key usage
// serverAuth, key usage digitalSignature (plus keyEncipherment for RSA), the
// common name, and SANs made of the common name, dnsNames and ips.
func (ca *CA) IssueServer(commonName string, dnsNames []string, ips []net.IP) (*Cert, error) {
	if commonName == "" {
		return nil, errors.New("pki: server common name is empty")
	}
	names := []string{commonName}
	for _, n := range dnsNames {
		if n != commonName {
			names = append(names, n)
		}
	}
	ku := x509.KeyUsageDigitalSignature
	if ca.Options.KeyType == RSA2048 {
		ku |= x509.KeyUsageKeyEncipherment
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		DNSNames:    names,
		IPAddresses: ips,
		KeyUsage:    ku,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
}

// IssueClient issues a client certificate with extended key usage
// clientAuth and key usage digitalSignature.
func (ca *CA) IssueClient(commonName string) (*Cert, error) {
	if commonName == "" {
		return nil, errors.New("pki: client common name is empty")
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func (ca *CA) issue(tmpl *x509.Certificate) (*Cert, error) {
	key, err := newKey(ca.Options.KeyType, ca.Options.rand())
	if err != nil {
		return nil, err
	}
	serial, err := newSerial(ca.Options.rand())
	if err != nil {
		return nil, err
	}
	now := ca.Options.now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(ca.Options.leafValidity())
	tmpl.BasicConstraintsValid = true
	c, err := sign(tmpl, ca.Cert.Cert, key.Public(), ca.Key, key, ca.Options.rand())
	if err != nil {
		return nil, fmt.Errorf("pki: certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return c, nil
}

// Revoked is one entry of a CRL.
type Revoked struct {
	Serial    *big.Int
	RevokedAt time.Time // zero means the CA clock's now
}

// CRL returns a PEM "X509 CRL" signed by the CA, with ThisUpdate = now and
// the given NextUpdate (pass a time in the past to make an expired CRL).
// number is the CRL number extension (monotonic per CA).
func (ca *CA) CRL(revoked []Revoked, nextUpdate time.Time, number int64) ([]byte, error) {
	now := ca.Options.now()
	if nextUpdate.IsZero() {
		return nil, errors.New("pki: CRL nextUpdate is not set")
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for i, r := range revoked {
		if r.Serial == nil {
			return nil, fmt.Errorf("pki: CRL entry %d has no serial", i)
		}
		at := r.RevokedAt
		if at.IsZero() {
			at = now
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.Serial, RevocationTime: at})
	}
	thisUpdate := now
	if !nextUpdate.After(thisUpdate) {
		// An expired CRL: thisUpdate must still precede nextUpdate.
		thisUpdate = nextUpdate.Add(-24 * time.Hour)
	}
	der, err := x509.CreateRevocationList(ca.Options.rand(), &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
	}, ca.Cert.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// Pool returns a cert pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert.Cert)
	return p
}

func newKey(kt KeyType, r io.Reader) (crypto.Signer, error) {
	switch kt {
	case RSA2048:
		k, err := rsa.GenerateKey(r, 2048)
		if err != nil {
			return nil, fmt.Errorf("pki: generate RSA key: %w", err)
		}
		return k, nil
	case ECDSAP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), r)
		if err != nil {
			return nil, fmt.Errorf("pki: generate ECDSA key: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("pki: unknown key type %v", kt)
	}
}

func newSerial(r io.Reader) (*big.Int, error) {
	s, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil // never zero
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey, key crypto.Signer, r io.Reader) (*Cert, error) {
	der, err := x509.CreateCertificate(r, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kp, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: cert, Key: key, CertPEM: pemCert(der), KeyPEM: kp}, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func marshalKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("pki: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertificatePEM parses the first CERTIFICATE block of data.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no CERTIFICATE PEM block")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}
