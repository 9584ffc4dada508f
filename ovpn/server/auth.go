package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/users"
)

// AuthRequest is what a client presented on one connection, after its TLS
// handshake (and client certificate, when mutual authentication is on)
// succeeded.
type AuthRequest struct {
	ConnectionID string
	// CommonName of the verified client certificate ("" without one).
	CommonName string
	Username   string
	Password   string
	PeerInfo   km2.PeerInfoMap
	Framing    km2.Framing
	Client     netip.AddrPort
}

// Identity is an authenticated user.
type Identity struct {
	Username string
	Groups   []string
	// AssertionReceived marks a federated phase 2 (the connection log
	// records a connection-reset entry with "assertion-received").
	AssertionReceived bool
	// AuthToken, when set, is pushed as the session's auth-token instead
	// of a random one (an authenticator that accepts it on reconnects).
	AuthToken string
	// Expires, when set, ends the session then at the latest (a sign-in
	// lasts the session timeout, also across reconnects with its token).
	Expires time.Time
}

// AuthError refuses a connection. ClientMessage follows "AUTH_FAILED," on
// the wire (for example a CRV1 challenge); Reason goes to the connection
// log; Waiting marks the first phase of a federated (SAML) login, logged
// as "waiting-for-assertion".
type AuthError struct {
	ClientMessage string
	Reason        string
	Waiting       bool
	// AssertionReceived marks a refused federated phase 2.
	AssertionReceived bool
	Err               error
}

func (e *AuthError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Reason
}

func (e *AuthError) Unwrap() error { return e.Err }

// Authenticator checks user credentials. The server calls it only when
// user-based authentication is configured (users_file, or a federated
// implementation passed in Options). It must honour ctx and never put the
// password in errors.
type Authenticator interface {
	Authenticate(ctx context.Context, req AuthRequest) (*Identity, error)
}

// UsersAuthenticator checks credentials against a users file.
type UsersAuthenticator struct {
	Dir *users.Directory
	Now func() time.Time
}

// Authenticate implements Authenticator.
func (u UsersAuthenticator) Authenticate(ctx context.Context, req AuthRequest) (*Identity, error) {
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	usr, err := u.Dir.Authenticate(req.Username, req.Password, now())
	if err != nil {
		return nil, &AuthError{Reason: "authentication-failed", Err: err}
	}
	return &Identity{Username: usr.Name, Groups: append([]string(nil), usr.Groups...)}, nil
}

// crlState is the CRL file, re-read when it changes.
type crlState struct {
	path string
	ca   *x509.Certificate
	mu   sync.Mutex
	mod  time.Time
	size int64
	list *x509.RevocationList
	revo map[string]bool
	err  error
}

func (c *crlState) load() (*x509.RevocationList, map[string]bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.path)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.crl: %w", err)
	}
	if c.list != nil && st.ModTime().Equal(c.mod) && st.Size() == c.size {
		return c.list, c.revo, c.err
	}
	c.mod, c.size = st.ModTime(), st.Size()
	c.list, c.revo, c.err = parseCRL(c.path, c.ca)
	if c.err != nil {
		c.list = nil
	}
	return c.list, c.revo, c.err
}

func parseCRL(path string, ca *x509.Certificate) (*x509.RevocationList, map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.crl: %w", err)
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		der = b.Bytes
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, nil, fmt.Errorf("tls.crl %s: %w", path, err)
	}
	if err := l.CheckSignatureFrom(ca); err != nil {
		return nil, nil, fmt.Errorf("tls.crl %s: not signed by the CA: %w", path, err)
	}
	revo := make(map[string]bool, len(l.RevokedCertificateEntries))
	for _, e := range l.RevokedCertificateEntries {
		revo[e.SerialNumber.String()] = true
	}
	return l, revo, nil
}

// errCRLExpired refuses every handshake, as AWS does with an expired CRL.
var errCRLExpired = errors.New("the certificate revocation list has expired (nextUpdate passed); every handshake is refused until a fresh CRL is installed")

// tlsSetup builds the TLS server configuration.
func (s *Server) tlsSetup() error {
	c := s.cfg
	pair, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key)
	if err != nil {
		return fmt.Errorf("tls.cert/tls.key: %w", err)
	}
	caPEM, err := os.ReadFile(c.TLS.CA)
	if err != nil {
		return fmt.Errorf("tls.ca: %w", err)
	}
	pool := x509.NewCertPool()
	var caCert *x509.Certificate
	for rest := caPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("tls.ca %s: %w", c.TLS.CA, err)
		}
		pool.AddCert(cert)
		if caCert == nil {
			caCert = cert
		}
	}
	if caCert == nil {
		return fmt.Errorf("tls.ca %s: no certificate", c.TLS.CA)
	}
	if c.TLS.CRL != "" {
		s.crl = &crlState{path: c.TLS.CRL, ca: caCert}
		if _, _, err := s.crl.load(); err != nil {
			return err
		}
	}
	base := &tls.Config{
		Certificates:                []tls.Certificate{pair},
		MinVersion:                  tls.VersionTLS12,
		DynamicRecordSizingDisabled: true,
		ClientCAs:                   pool,
		Time:                        s.now,
	}
	if c.Authentication.Mutual {
		base.ClientAuth = tls.RequireAndVerifyClientCert
		base.VerifyPeerCertificate = s.verifyRevocation
	}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		if s.crl != nil {
			l, _, err := s.crl.load()
			if err != nil {
				return nil, err
			}
			if s.now().After(l.NextUpdate) {
				return nil, errCRLExpired
			}
		}
		return nil, nil
	}
	s.tlsConf = base
	return nil
}

func (s *Server) verifyRevocation(_ [][]byte, chains [][]*x509.Certificate) error {
	if s.crl == nil || len(chains) == 0 || len(chains[0]) == 0 {
		return nil
	}
	l, revo, err := s.crl.load()
	if err != nil {
		return err
	}
	if s.now().After(l.NextUpdate) {
		return errCRLExpired
	}
	leaf := chains[0][0]
	if revo[leaf.SerialNumber.String()] {
		return fmt.Errorf("client certificate %q (serial %s) is revoked", leaf.Subject.CommonName, leaf.SerialNumber)
	}
	return nil
}

// crlDaysToExpiry returns the days until the CRL's nextUpdate, and false
// when no CRL is configured.
func (s *Server) crlDaysToExpiry() (float64, bool) {
	if s.crl == nil {
		return 0, false
	}
	l, _, err := s.crl.load()
	if err != nil {
		return 0, true
	}
	return l.NextUpdate.Sub(s.now()).Hours() / 24, true
}
