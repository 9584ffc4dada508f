package control

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mrand "math/rand"
	"sync"
	"testing"
	"time"
)

// testPKI is a CA with one server and one client certificate.
type testPKI struct {
	pool           *x509.CertPool
	caDER          []byte
	server, client tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cvpn test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, eku x509.ExtKeyUsage) tls.Certificate {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			DNSNames:     []string{cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
			ExtKeyUsage:  []x509.ExtKeyUsage{eku},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testPKI{
		pool:   pool,
		caDER:  caDER,
		server: leaf(2, "server", x509.ExtKeyUsageServerAuth),
		client: leaf(3, "client", x509.ExtKeyUsageClientAuth),
	}
}

func (p *testPKI) clientConfig(maxVer uint16) *tls.Config {
	return &tls.Config{
		RootCAs:                     p.pool,
		ServerName:                  "server",
		Certificates:                []tls.Certificate{p.client},
		MinVersion:                  tls.VersionTLS12,
		MaxVersion:                  maxVer,
		DynamicRecordSizingDisabled: true,
	}
}

func (p *testPKI) serverConfig(maxVer uint16) *tls.Config {
	return &tls.Config{
		Certificates:                []tls.Certificate{p.server},
		ClientAuth:                  tls.RequireAndVerifyClientCert,
		ClientCAs:                   p.pool,
		MinVersion:                  tls.VersionTLS12,
		MaxVersion:                  maxVer,
		DynamicRecordSizingDisabled: true,
	}
}

// lossyLink delivers packets after a random delay (reordering), drops
// some and duplicates some, driven by a seeded PRNG.
type lossyLink struct {
	mu            sync.Mutex
	rng           *mrand.Rand
	loss, dup     float64
	maxDelay      time.Duration
	closed        bool
	sent, dropped int
	// drop, when set, drops the packets it returns true for (called with
	// l.mu held, before the random loss).
	drop func(pkt []byte) bool
	wg   sync.WaitGroup
}

func newLossyLink(seed int64, loss, dup float64, maxDelay time.Duration) *lossyLink {
	return &lossyLink{rng: mrand.New(mrand.NewSource(seed)), loss: loss, dup: dup, maxDelay: maxDelay}
}

// send returns a send function that delivers to deliver.
func (l *lossyLink) send(deliver func([]byte)) func([]byte) error {
	return func(pkt []byte) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.closed {
			return nil
		}
		l.sent++
		if l.drop != nil && l.drop(pkt) {
			l.dropped++
			return nil
		}
		if l.rng.Float64() < l.loss {
			l.dropped++
			return nil
		}
		n := 1
		if l.rng.Float64() < l.dup {
			n = 2
		}
		for i := 0; i < n; i++ {
			cp := append([]byte(nil), pkt...)
			d := time.Duration(l.rng.Int63n(int64(l.maxDelay) + 1))
			l.wg.Add(1)
			time.AfterFunc(d, func() {
				defer l.wg.Done()
				l.mu.Lock()
				closed := l.closed
				l.mu.Unlock()
				if !closed {
					deliver(cp)
				}
			})
		}
		return nil
	}
}

func (l *lossyLink) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
}
