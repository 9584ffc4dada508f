package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixed generates one RSA and one ECDSA PKI per test binary: RSA key
// generation is slow and the material is read-only.
var (
	fixedOnce sync.Once
	fixedRSA  *PKI
	fixedEC   *PKI
	fixedErr  error
)

func fixed(t *testing.T) (rsaPKI, ecPKI *PKI) {
	t.Helper()
	fixedOnce.Do(func() {
		fixedRSA, fixedErr = Generate(Spec{ServerName: "vpn.lab.test", ServerDNS: []string{"alt.lab.test"},
			ServerIPs: []net.IP{net.ParseIP("198.18.0.2")}, Clients: []string{"client1", "client2"}})
		if fixedErr != nil {
			return
		}
		fixedEC, fixedErr = Generate(Spec{Clients: []string{"client1"}, Options: Options{KeyType: ECDSAP256}})
	})
	if fixedErr != nil {
		t.Fatal(fixedErr)
	}
	return fixedRSA, fixedEC
}

func TestChainVerifiesAndEKUs(t *testing.T) {
	r, e := fixed(t)
	for _, tc := range []struct {
		name string
		p    *PKI
	}{{"rsa", r}, {"ecdsa", e}} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			srv := p.Server.Cert
			if _, err := srv.Verify(x509.VerifyOptions{Roots: p.CA.Pool(), DNSName: srv.Subject.CommonName,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Fatalf("server chain: %v", err)
			}
			// The server certificate must not pass as a client certificate.
			if _, err := srv.Verify(x509.VerifyOptions{Roots: p.CA.Pool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Fatal("server certificate verified for clientAuth")
			}
			cl := p.Client("client1")
			if cl == nil {
				t.Fatal("client1 missing")
			}
			if _, err := cl.Cert.Verify(x509.VerifyOptions{Roots: p.CA.Pool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatalf("client chain: %v", err)
			}
			if _, err := cl.Cert.Verify(x509.VerifyOptions{Roots: p.CA.Pool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
				t.Fatal("client certificate verified for serverAuth")
			}
			if got := srv.ExtKeyUsage; len(got) != 1 || got[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("server EKU = %v", got)
			}
			if got := cl.Cert.ExtKeyUsage; len(got) != 1 || got[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("client EKU = %v", got)
			}
			if srv.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
				t.Errorf("server key usage %b lacks digitalSignature", srv.KeyUsage)
			}
			if !p.CA.Cert.Cert.IsCA || p.CA.Cert.Cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
				t.Errorf("CA flags wrong: IsCA=%v KU=%b", p.CA.Cert.Cert.IsCA, p.CA.Cert.Cert.KeyUsage)
			}
		})
	}
	if r.Server.Cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("RSA server key usage = %b, want digitalSignature|keyEncipherment", r.Server.Cert.KeyUsage)
	}
	if _, ok := r.Server.Key.(*rsa.PrivateKey); !ok || r.Server.Key.(*rsa.PrivateKey).N.BitLen() != 2048 {
		t.Errorf("RSA server key is %T, want 2048-bit RSA", r.Server.Key)
	}
	if _, ok := e.Server.Key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("ECDSA server key is %T", e.Server.Key)
	}
	want := []string{"vpn.lab.test", "alt.lab.test"}
	if got := r.Server.Cert.DNSNames; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("server SANs = %v, want %v", got, want)
	}
	if len(r.Server.Cert.IPAddresses) != 1 || !r.Server.Cert.IPAddresses[0].Equal(net.ParseIP("198.18.0.2")) {
		t.Errorf("server IP SANs = %v", r.Server.Cert.IPAddresses)
	}
	if r.Server.Cert.SerialNumber.Cmp(r.Clients[0].Cert.Cert.SerialNumber) == 0 {
		t.Error("two certificates share a serial number")
	}
}

func TestExpiredCertificateFromInjectedClock(t *testing.T) {
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA("old CA", Options{KeyType: ECDSAP256, Now: func() time.Time { return past }, LeafValidity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.IssueClient("stale")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cert.NotAfter.Equal(past.Add(24 * time.Hour)) {
		t.Errorf("NotAfter = %v", c.Cert.NotAfter)
	}
	if !c.Cert.NotBefore.Equal(past.Add(-time.Hour)) {
		t.Errorf("NotBefore = %v", c.Cert.NotBefore)
	}
	_, err = c.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Fatalf("verify now: err = %v, want expired", err)
	}
	if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: past,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("verify at issue time: %v", err)
	}
}

func TestCRL(t *testing.T) {
	_, e := fixed(t)
	now := time.Now()
	revokedSerial := e.Client("client1").Cert.SerialNumber
	next := now.Add(48 * time.Hour).Truncate(time.Second)
	data, err := e.CA.CRL([]Revoked{{Serial: revokedSerial}, {Serial: big.NewInt(7), RevokedAt: now.Add(-time.Hour)}}, next, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "X509 CRL" {
		t.Fatalf("CRL PEM block = %v", b)
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(e.CA.Cert.Cert); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	if !crl.NextUpdate.Equal(next) {
		t.Errorf("NextUpdate = %v, want %v", crl.NextUpdate, next)
	}
	if crl.Number.Int64() != 3 {
		t.Errorf("CRL number = %v", crl.Number)
	}
	if len(crl.RevokedCertificateEntries) != 2 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(revokedSerial) != 0 {
		t.Errorf("revoked entries = %+v", crl.RevokedCertificateEntries)
	}

	// An expired CRL: nextUpdate in the past, thisUpdate before it.
	old := now.Add(-24 * time.Hour)
	data, err = e.CA.CRL(nil, old, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = pem.Decode(data)
	crl, err = x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !crl.NextUpdate.Before(now) || !crl.ThisUpdate.Before(crl.NextUpdate) {
		t.Errorf("expired CRL: thisUpdate %v nextUpdate %v", crl.ThisUpdate, crl.NextUpdate)
	}
	if _, err := e.CA.CRL([]Revoked{{}}, next, 5); err == nil || !strings.Contains(err.Error(), "entry 0 has no serial") {
		t.Errorf("CRL with nil serial: err = %v", err)
	}
}

func TestOpenSSLAcceptsChainAndCRL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	r, e := fixed(t)
	for _, tc := range []struct {
		name string
		p    *PKI
	}{{"rsa", r}, {"ecdsa", e}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.p.WriteDir(dir); err != nil {
				t.Fatal(err)
			}
			ca := filepath.Join(dir, FileCACert)
			openssl(t, true, "verify", "-CAfile", ca, "-purpose", "sslserver", filepath.Join(dir, FileServer))
			openssl(t, true, "verify", "-CAfile", ca, "-purpose", "sslclient", filepath.Join(dir, "client1.crt"))
			out := openssl(t, false, "verify", "-CAfile", ca, "-purpose", "sslclient", filepath.Join(dir, FileServer))
			if !strings.Contains(out, "unsuitable certificate purpose") {
				t.Errorf("server cert as client: %s", out)
			}
			openssl(t, true, "verify", "-crl_check", "-CAfile", ca, "-CRLfile", filepath.Join(dir, FileCRL), filepath.Join(dir, "client1.crt"))

			revoked, err := tc.p.CA.CRL([]Revoked{{Serial: tc.p.Client("client1").Cert.SerialNumber}}, time.Now().Add(time.Hour), 2)
			if err != nil {
				t.Fatal(err)
			}
			crlPath := filepath.Join(dir, "revoked.pem")
			if err := WriteFileAtomic(crlPath, revoked, 0o644); err != nil {
				t.Fatal(err)
			}
			out = openssl(t, false, "verify", "-crl_check", "-CAfile", ca, "-CRLfile", crlPath, filepath.Join(dir, "client1.crt"))
			if !strings.Contains(out, "certificate revoked") {
				t.Errorf("revoked client: %s", out)
			}
			expired, err := tc.p.CA.CRL(nil, time.Now().Add(-time.Hour), 3)
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteFileAtomic(crlPath, expired, 0o644); err != nil {
				t.Fatal(err)
			}
			out = openssl(t, false, "verify", "-crl_check", "-CAfile", ca, "-CRLfile", crlPath, filepath.Join(dir, "client1.crt"))
			if !strings.Contains(out, "CRL has expired") {
				t.Errorf("expired CRL: %s", out)
			}
		})
	}
}

func openssl(t *testing.T, wantOK bool, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if wantOK && err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !wantOK && err == nil {
		t.Fatalf("openssl %s succeeded, want failure\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func TestWriteDirPermissions(t *testing.T) {
	r, _ := fixed(t)
	dir := filepath.Join(t.TempDir(), "pki")
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		FileCACert: 0o644, FileCAKey: 0o600, FileServer: 0o644, FileServerKey: 0o600, FileCRL: 0o644,
		FileTLSAuth: 0o600, FileTLSCrypt: 0o600, FileTLSCryptV2: 0o600, "client1.crt": 0o644, "client1.key": 0o600,
		"client2.crt": 0o644, "client2.key": 0o600,
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(want) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files = %v, want %d files", names, len(want))
	}
	for name, perm := range want {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Mode().Perm() != perm {
			t.Errorf("%s mode = %v, want %v", name, st.Mode().Perm(), perm)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v", st.Mode().Perm())
	}
}

func TestGenerateRejectsBadClientNames(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"a/b"}, `character '/'`},
		{[]string{"ca"}, "reserved"},
		{[]string{"x", "x"}, "appears twice"},
		{[]string{".hidden"}, "must not start"},
	} {
		_, err := Generate(Spec{Clients: tc.names, Options: Options{KeyType: ECDSAP256}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Generate(%q): err = %v, want %q", tc.names, err, tc.want)
		}
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.key")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, []byte("two")) {
		t.Errorf("content = %q", got)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("leftover files: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("write into missing dir: %v", err)
	}
}
