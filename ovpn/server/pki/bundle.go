package pki

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cvpn/cvpn/ovpn/statickey"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
)

// Spec describes a complete lab PKI.
type Spec struct {
	// CAName is the CA common name ("cvpn lab CA" when empty).
	CAName string
	// ServerName is the server certificate's common name and first DNS SAN
	// ("server" when empty).
	ServerName string
	// ServerDNS and ServerIPs are extra subject alternative names.
	ServerDNS []string
	ServerIPs []net.IP
	// Clients are the common names of client certificates to issue
	// (none when empty). Names must be unique and usable as file names.
	Clients []string
	// CRLNextUpdate is the CRL's nextUpdate; zero means now + 180 days.
	CRLNextUpdate time.Time
	Options
}

// PKI is a generated lab PKI.
type PKI struct {
	CA      *CA
	Server  *Cert
	Clients []NamedCert // in Spec.Clients order
	// CRL is an empty (no revocations) PEM CRL.
	CRL      []byte
	TLSAuth  statickey.Key
	TLSCrypt statickey.Key
	// TLSCryptV2 is a tls-crypt-v2 server key (PEM).
	TLSCryptV2 []byte
}

// NamedCert is a client certificate with the name it was issued for.
type NamedCert struct {
	Name string
	*Cert
}

// Client returns the client certificate issued for name, or nil.
func (p *PKI) Client(name string) *Cert {
	for _, c := range p.Clients {
		if c.Name == name {
			return c.Cert
		}
	}
	return nil
}

// Generate builds a CA, a server certificate, the requested client
// certificates, an empty CRL and two static keys.
func Generate(spec Spec) (*PKI, error) {
	if spec.CAName == "" {
		spec.CAName = "cvpn lab CA"
	}
	if spec.ServerName == "" {
		spec.ServerName = "server"
	}
	seen := map[string]bool{}
	for _, c := range spec.Clients {
		if err := checkFileName(c); err != nil {
			return nil, fmt.Errorf("pki: client name %q: %w", c, err)
		}
		if seen[c] {
			return nil, fmt.Errorf("pki: client name %q appears twice", c)
		}
		seen[c] = true
	}
	ca, err := NewCA(spec.CAName, spec.Options)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca}
	if p.Server, err = ca.IssueServer(spec.ServerName, spec.ServerDNS, spec.ServerIPs); err != nil {
		return nil, err
	}
	for _, name := range spec.Clients {
		c, err := ca.IssueClient(name)
		if err != nil {
			return nil, err
		}
		p.Clients = append(p.Clients, NamedCert{Name: name, Cert: c})
	}
	next := spec.CRLNextUpdate
	if next.IsZero() {
		next = spec.now().Add(180 * 24 * time.Hour)
	}
	if p.CRL, err = ca.CRL(nil, next, 1); err != nil {
		return nil, err
	}
	if p.TLSAuth, err = statickey.New(spec.rand()); err != nil {
		return nil, err
	}
	if p.TLSCrypt, err = statickey.New(spec.rand()); err != nil {
		return nil, err
	}
	if p.TLSCryptV2, err = tlswrap.NewV2ServerKeyPEM(spec.rand()); err != nil {
		return nil, err
	}
	return p, nil
}

// File names written by WriteDir.
const (
	FileCACert     = "ca.crt"
	FileCAKey      = "ca.key"
	FileServer     = "server.crt"
	FileServerKey  = "server.key"
	FileCRL        = "crl.pem"
	FileTLSAuth    = "ta.key"
	FileTLSCrypt   = "tls-crypt.key"
	FileTLSCryptV2 = "tls-crypt-v2-server.key"
)

// WriteDir writes the PKI into dir (created 0700 when missing): ca.crt,
// ca.key, server.crt, server.key, NAME.crt and NAME.key per client, crl.pem,
// ta.key (tls-auth), tls-crypt.key and tls-crypt-v2-server.key. Keys are 0600, the rest 0644.
func (p *PKI) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	type file struct {
		name string
		data []byte
		perm os.FileMode
	}
	files := []file{
		{FileCACert, p.CA.CertPEM, 0o644},
		{FileCAKey, p.CA.KeyPEM, 0o600},
		{FileServer, p.Server.CertPEM, 0o644},
		{FileServerKey, p.Server.KeyPEM, 0o600},
		{FileCRL, p.CRL, 0o644},
		{FileTLSAuth, p.TLSAuth.PEM(), 0o600},
		{FileTLSCrypt, p.TLSCrypt.PEM(), 0o600},
		{FileTLSCryptV2, p.TLSCryptV2, 0o600},
	}
	for _, c := range p.Clients {
		files = append(files,
			file{c.Name + ".crt", c.CertPEM, 0o644},
			file{c.Name + ".key", c.KeyPEM, 0o600})
	}
	for _, f := range files {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

func checkFileName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if name == "ca" || name == "server" {
		return errors.New("reserved for the CA or server files")
	}
	for _, c := range name {
		ok := c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return fmt.Errorf("character %q not allowed (use letters, digits, '-', '_', '.')", c)
		}
	}
	if name[0] == '.' {
		return errors.New("must not start with '.'")
	}
	return nil
}
