package handshake_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/handshake"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// certs is a CA with one server certificate ("server") and one client
// certificate ("alice"), made with the server's PKI generator.
type certs struct {
	pool           *x509.CertPool
	server, client tls.Certificate
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	ca, err := pki.NewCA("handshake test CA", pki.Options{KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("server", []string{"server"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.IssueClient("alice")
	if err != nil {
		t.Fatal(err)
	}
	pair := func(c *pki.Cert) tls.Certificate {
		return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key}
	}
	return &certs{pool: ca.Pool(), server: pair(srv), client: pair(cli)}
}

func (c *certs) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: c.pool, ServerName: "server", Certificates: []tls.Certificate{c.client},
		MinVersion: tls.VersionTLS12, DynamicRecordSizingDisabled: true}
}

func (c *certs) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: c.pool, MinVersion: tls.VersionTLS12, DynamicRecordSizingDisabled: true}
}

// channels connects a client and a server control channel in memory: each
// direction is a queue drained by its own goroutine.
func channels(t *testing.T) (client, server *control.Channel) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	toServer, toClient := make(chan []byte, 256), make(chan []byte, 256)
	sender := func(q chan []byte) func([]byte) error {
		return func(p []byte) error {
			select {
			case q <- append([]byte(nil), p...):
			case <-ctx.Done():
			}
			return nil
		}
	}
	var err error
	client, err = control.NewClient(ctx, control.Config{Role: wire.RoleClient, Wrapper: tlswrap.None{},
		Send: sender(toServer), Peer: "test server"})
	if err != nil {
		t.Fatal(err)
	}
	var reset []byte
	select {
	case reset = <-toServer:
	case <-time.After(10 * time.Second):
		t.Fatal("the client sent no hard reset")
	}
	server, err = control.NewServer(ctx, control.Config{Role: wire.RoleServer, Wrapper: tlswrap.None{},
		Send: sender(toClient), Peer: "test client"}, reset)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	pump := func(q chan []byte, to *control.Channel) {
		defer wg.Done()
		for {
			select {
			case p := <-q:
				to.HandleIncoming(p)
			case <-ctx.Done():
				return
			}
		}
	}
	wg.Add(2)
	go pump(toServer, server)
	go pump(toClient, client)
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		client.Close()
		server.Close()
	})
	return client, server
}

type outcome struct {
	key *handshake.Key
	err error
}

// negotiate runs both halves on key 0 of a fresh channel pair.
func negotiate(t *testing.T, hello handshake.Hello, answer func(*handshake.Key) (string, error)) (client, server outcome) {
	t.Helper()
	pki := newCerts(t)
	cc, sc := channels(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		k, err := handshake.Negotiate(ctx, sc.Stream(0), handshake.Config{Role: wire.RoleServer, TLS: pki.serverTLS(),
			IDs: sc, Peer: "test client", Answer: answer})
		done <- outcome{k, err}
	}()
	k, err := handshake.Negotiate(ctx, cc.Stream(0), handshake.Config{Role: wire.RoleClient, TLS: pki.clientTLS(),
		IDs: cc, Peer: "test server", Hello: hello})
	client = outcome{k, err}
	server = <-done
	return client, server
}

var peerInfo = km2.PeerInfo{Version: "2.6.14", Platform: "linux", Proto: km2.ClientIVProto, Ciphers: []string{"AES-256-GCM"}}.String()

// dataKeys derives both data keys and checks that what the client seals
// the server opens and the other way round.
func dataKeys(t *testing.T, ck, sk *handshake.Key, ekm bool) {
	t.Helper()
	dc := datachannel.Config{Cipher: datachannel.CipherAES256GCM, DataV2: true, PeerID: 7}
	cd, err := ck.DataKey(ekm, dc)
	if err != nil {
		t.Fatalf("client data key: %v", err)
	}
	sd, err := sk.DataKey(ekm, dc)
	if err != nil {
		t.Fatalf("server data key: %v", err)
	}
	var cks, sks datachannel.Keys
	ck.Install(&cks, cd)
	sk.Install(&sks, sd)
	for _, dir := range []struct {
		name     string
		from, to *datachannel.Keys
	}{{"client to server", &cks, &sks}, {"server to client", &sks, &cks}} {
		pkt, err := dir.from.Seal(nil, []byte("ping "+dir.name))
		if err != nil {
			t.Fatal(err)
		}
		plain, _, err := dir.to.Open(nil, pkt)
		if err != nil || string(plain) != "ping "+dir.name {
			t.Errorf("%s: opened %q, %v; want the sealed text", dir.name, plain, err)
		}
	}
}

// sameBlocks checks that both sides derive the same key block and
// returns it.
func sameBlocks(t *testing.T, ck, sk *handshake.Key, ekm bool) keys.KeyBlock {
	t.Helper()
	cb, err := ck.KeyBlock(ekm)
	if err != nil {
		t.Fatalf("client key block (ekm %v): %v", ekm, err)
	}
	sb, err := sk.KeyBlock(ekm)
	if err != nil {
		t.Fatalf("server key block (ekm %v): %v", ekm, err)
	}
	if *cb != *sb {
		t.Errorf("client and server derived different key blocks (ekm %v)", ekm)
	}
	return *cb
}

func TestNegotiatePRF(t *testing.T) {
	hello := handshake.Hello{Options: "V4,dev-type tun,tls-client", Username: "alice", Password: "s3cret", PeerInfo: peerInfo}
	var seen *km2.Message
	c, s := negotiate(t, hello, func(k *handshake.Key) (string, error) {
		seen = k.Peer
		return "V4,dev-type tun,tls-server", nil
	})
	if c.err != nil || s.err != nil {
		t.Fatalf("client: %v; server: %v", c.err, s.err)
	}
	if seen == nil || seen.Username != "alice" || seen.Password != "s3cret" || seen.PeerInfo != peerInfo || seen.Options != hello.Options {
		t.Errorf("the server's answer hook saw %v, want the client's hello", seen)
	}
	if s.key.CommonName != "alice" || c.key.CommonName != "server" {
		t.Errorf("common names: server saw %q, client saw %q", s.key.CommonName, c.key.CommonName)
	}
	if c.key.Peer.Options != "V4,dev-type tun,tls-server" || c.key.Peer.Framing != km2.Standard {
		t.Errorf("client got server message %v", c.key.Peer)
	}
	if sameBlocks(t, c.key, s.key, false) == sameBlocks(t, c.key, s.key, true) {
		t.Error("the exporter and the PRF gave the same key block")
	}
	dataKeys(t, c.key, s.key, false)
	_, err := c.key.DataKey(false, datachannel.Config{Cipher: datachannel.CipherAES256GCM, DataV2: true, PeerID: 1 << 24})
	if err == nil || !strings.Contains(err.Error(), "test server: data channel key") {
		t.Errorf("a peer id over 24 bits gave %v, want a data channel key error naming the peer", err)
	}
	c.key.Zero()
	if _, err := c.key.KeyBlock(false); err == nil {
		t.Error("a zeroed key still derived a PRF key block")
	}
}

func TestNegotiateEKMWithAWSFraming(t *testing.T) {
	hello := handshake.Hello{Framing: km2.AWS, Options: "V4,tls-client", Username: "N/A",
		Password: "SAML:" + string(bytes.Repeat([]byte("x"), 4000)), PeerInfo: peerInfo}
	c, s := negotiate(t, hello, func(k *handshake.Key) (string, error) { return "V4,tls-server", nil })
	if c.err != nil || s.err != nil {
		t.Fatalf("client: %v; server: %v", c.err, s.err)
	}
	if s.key.Peer.Framing != km2.AWS || c.key.Peer.Framing != km2.AWS {
		t.Errorf("framing: server got %s, client got %s; want aws both ways", s.key.Peer.Framing, c.key.Peer.Framing)
	}
	if s.key.Peer.Password != hello.Password {
		t.Errorf("the server got a %d-byte password, want %d bytes", len(s.key.Peer.Password), len(hello.Password))
	}
	// The exporter needs no key-method-2 secret: zeroing first is fine.
	c.key.Zero()
	s.key.Zero()
	sameBlocks(t, c.key, s.key, true)
	dataKeys(t, c.key, s.key, true)
}

func TestNegotiateAuthFailed(t *testing.T) {
	errRefused := errors.New("wrong password")
	hello := handshake.Hello{Options: "V4,tls-client", Username: "alice", Password: "wrong", PeerInfo: peerInfo}
	c, s := negotiate(t, hello, func(k *handshake.Key) (string, error) {
		if k.Peer.Password != "s3cret" {
			_, _ = k.TLS.Write([]byte("AUTH_FAILED,wrong password\x00"))
			return "", errRefused
		}
		return "V4,tls-server", nil
	})
	if !errors.Is(s.err, errRefused) || s.key != nil {
		t.Errorf("server: key %v, err %v; want the answer hook's refusal", s.key, s.err)
	}
	var re *handshake.RefusedError
	if !errors.As(c.err, &re) || c.key != nil {
		t.Fatalf("client: key %v, err %v; want a *RefusedError", c.key, c.err)
	}
	if re.AuthFailed.Reason != "wrong password" {
		t.Errorf("refusal reason %q, want %q", re.AuthFailed.Reason, "wrong password")
	}
}

func TestNegotiateGivesUpWithContext(t *testing.T) {
	pki := newCerts(t)
	cc, sc := channels(t)
	// The server completes TLS but never sends its key exchange.
	go func() {
		tc := tls.Server(sc.Stream(0), pki.serverTLS())
		_ = tc.Handshake()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := handshake.Negotiate(ctx, cc.Stream(0), handshake.Config{Role: wire.RoleClient, TLS: pki.clientTLS(),
		IDs: cc, Peer: "test server", Hello: handshake.Hello{PeerInfo: peerInfo}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s, the context allowed 2s", d)
	}
}
