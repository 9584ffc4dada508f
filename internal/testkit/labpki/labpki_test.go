package labpki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/server/pki"
)

func TestLoadCA(t *testing.T) {
	r, err := pki.Generate(pki.Spec{Clients: []string{"client1"}, Options: pki.Options{KeyType: pki.ECDSAP256}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pki")
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, pki.FileCACert))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, pki.FileCAKey))
	ca, err := LoadCA(certPEM, keyPEM, pki.Options{KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.IssueClient("client3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: r.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("certificate from reloaded CA: %v", err)
	}
	otherKey, _ := os.ReadFile(filepath.Join(dir, "client1.key"))
	if _, err := LoadCA(certPEM, otherKey, pki.Options{}); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("LoadCA with wrong key: %v", err)
	}
	if _, err := LoadCA(r.Server.CertPEM, r.Server.KeyPEM, pki.Options{}); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("LoadCA with leaf: %v", err)
	}
}
