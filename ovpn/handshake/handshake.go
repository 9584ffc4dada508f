package handshake

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Conn is one key's control stream: the TLS transport of a negotiation.
// *control.Stream satisfies it.
type Conn interface {
	net.Conn
	// HandshakeComplete stops the stream's hand-window timer.
	HandshakeComplete()
}

// SessionIDs names the two ends of the control channel; the PRF key block
// mixes them in. *control.Channel satisfies it.
type SessionIDs interface {
	LocalSessionID() wire.SessionID
	RemoteSessionID() (wire.SessionID, bool)
}

// Hello is what a client sends in its key-method-2 message.
type Hello struct {
	Framing            km2.Framing
	Options            string
	Username, Password string
	PeerInfo           string
}

// Config parameterises one negotiation.
type Config struct {
	// Role is our side: wire.RoleClient or wire.RoleServer.
	Role wire.Role
	// TLS is the TLS configuration of our side.
	TLS *tls.Config
	// IDs are the control channel's session ids (for the PRF key block).
	IDs SessionIDs
	// Peer names the peer at the start of error messages.
	Peer string
	// ReadBuffer is the size of Key.Reader (default 4096).
	ReadBuffer int

	// Hello is the client's message (client role only).
	Hello Hello
	// Answer returns the options string of the server's message once the
	// client's message is read (server role only; nil sends none). An
	// error ends the negotiation before the server answers.
	Answer func(k *Key) (options string, err error)
}

// RefusedError is a server's AUTH_FAILED received instead of its key
// exchange.
type RefusedError struct {
	AuthFailed ctrlmsg.AuthFailed
}

func (e *RefusedError) Error() string {
	if e.AuthFailed.Reason == "" {
		return "the server refused the credentials (AUTH_FAILED)"
	}
	return "the server refused the credentials: " + e.AuthFailed.Reason
}

// Key is one negotiated key: the TLS session, which carries text control
// messages from now on, and the key-method-2 material both sides sent.
// Zero it once its data key is derived.
type Key struct {
	// TLS is the key's TLS session.
	TLS *tls.Conn
	// Reader buffers TLS; read control messages through it, never TLS.
	Reader *bufio.Reader
	// Peer is the peer's key-method-2 message.
	Peer *km2.Message
	// CommonName is the subject common name of the peer's certificate
	// ("" without one).
	CommonName string

	conn  Conn
	cfg   Config
	state tls.ConnectionState
	mine  km2.Message
}

// Negotiate runs TLS and the key-method-2 exchange on conn. A client
// sends its Hello first and then reads the server's message (or an
// AUTH_FAILED, returned as *RefusedError); once that is read the stream's
// hand window is stopped. A server reads the client's message first and
// answers with the same framing.
func Negotiate(ctx context.Context, conn Conn, cfg Config) (*Key, error) {
	k := &Key{conn: conn, cfg: cfg}
	if cfg.Role == wire.RoleClient {
		k.TLS = tls.Client(conn, cfg.TLS)
	} else {
		k.TLS = tls.Server(conn, cfg.TLS)
	}
	if err := k.TLS.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%s: TLS handshake failed: %w", cfg.Peer, err)
	}
	k.state = k.TLS.ConnectionState()
	if len(k.state.PeerCertificates) > 0 {
		k.CommonName = k.state.PeerCertificates[0].Subject.CommonName
	}
	size := cfg.ReadBuffer
	if size <= 0 {
		size = 4096
	}
	k.Reader = bufio.NewReaderSize(k.TLS, size)
	var err error
	if cfg.Role == wire.RoleClient {
		err = k.client(ctx)
	} else {
		err = k.server(ctx)
	}
	if err != nil {
		k.Zero()
		return nil, err
	}
	return k, nil
}

func (k *Key) client(ctx context.Context) error {
	h := k.cfg.Hello
	k.mine = km2.Message{Framing: h.Framing, Sender: wire.RoleClient, Options: h.Options,
		Username: h.Username, Password: h.Password, PeerInfo: h.PeerInfo}
	if err := random(k.mine.PreMaster[:], k.mine.Random1[:], k.mine.Random2[:]); err != nil {
		return err
	}
	if err := k.send(); err != nil {
		return err
	}
	theirs, err := k.readPeer(ctx)
	if err != nil {
		return err
	}
	k.Peer = theirs
	k.conn.HandshakeComplete()
	return nil
}

func (k *Key) server(ctx context.Context) error {
	theirs, err := k.readPeer(ctx)
	if err != nil {
		return err
	}
	k.Peer = theirs
	k.mine = km2.Message{Framing: theirs.Framing, Sender: wire.RoleServer}
	if err := random(k.mine.Random1[:], k.mine.Random2[:]); err != nil {
		return err
	}
	if k.cfg.Answer != nil {
		if k.mine.Options, err = k.cfg.Answer(k); err != nil {
			return err
		}
	}
	return k.send()
}

func random(bs ...[]byte) error {
	for _, b := range bs {
		if _, err := rand.Read(b); err != nil {
			return err
		}
	}
	return nil
}

func (k *Key) send() error {
	if _, err := k.mine.WriteTo(k.TLS); err != nil {
		return fmt.Errorf("%s: sending key exchange: %w", k.cfg.Peer, err)
	}
	return nil
}

// readPeer reads the peer's key-method-2 message, giving up when ctx
// ends (the TLS session is closed then). A client also recognises a
// server's AUTH_FAILED sent instead.
func (k *Key) readPeer(ctx context.Context) (*km2.Message, error) {
	type result struct {
		m   *km2.Message
		err error
	}
	sender := wire.RoleServer
	if k.cfg.Role == wire.RoleServer {
		sender = wire.RoleClient
	}
	done := make(chan result, 1)
	go func() {
		if k.cfg.Role == wire.RoleClient {
			if err := k.refused(); err != nil {
				done <- result{nil, err}
				return
			}
		}
		m, err := km2.Read(k.Reader, sender)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			var re *RefusedError
			if errors.As(r.err, &re) {
				return nil, r.err
			}
			return nil, fmt.Errorf("%s: reading the %s's key exchange: %w", k.cfg.Peer, sender, r.err)
		}
		return r.m, nil
	case <-ctx.Done():
		k.TLS.Close()
		return nil, ctx.Err()
	}
}

// refused reads a text control message a server sent instead of its key
// exchange, if there is one: AUTH_FAILED or anything else is an error.
func (k *Key) refused() error {
	head, err := k.Reader.Peek(4)
	if err != nil || head[0] < 'A' || head[0] > 'Z' {
		return nil
	}
	msg, err := ctrlmsg.ReadMessage(k.Reader)
	if err != nil {
		return err
	}
	if m, perr := ctrlmsg.Parse(msg); perr == nil {
		if af, ok := m.(ctrlmsg.AuthFailed); ok {
			return &RefusedError{af}
		}
	}
	return fmt.Errorf("unexpected control message %q before the key exchange", ctrlmsg.Redact(msg))
}

// KeyBlock derives the data channel key material: with ekm from the TLS
// exporter, otherwise with the PRF over both key-method-2 messages and
// the session ids. The caller zeroes it.
func (k *Key) KeyBlock(ekm bool) (*keys.KeyBlock, error) {
	if ekm {
		kb, err := keys.ExportKeyBlock(&k.state)
		if err != nil {
			return nil, fmt.Errorf("%s: deriving keys with the TLS exporter: %w", k.cfg.Peer, err)
		}
		return kb, nil
	}
	if k.Peer == nil {
		return nil, errors.New("handshake: key block of a key that was zeroed")
	}
	client, server := &k.mine, k.Peer
	if k.cfg.Role == wire.RoleServer {
		client, server = server, client
	}
	in := keys.PRFInput{PreMaster: client.PreMaster, ClientRandom1: client.Random1, ClientRandom2: client.Random2,
		ServerRandom1: server.Random1, ServerRandom2: server.Random2}
	local := k.cfg.IDs.LocalSessionID()
	remote, _ := k.cfg.IDs.RemoteSessionID()
	if k.cfg.Role == wire.RoleClient {
		in.ClientSessionID, in.ServerSessionID = local, remote
	} else {
		in.ClientSessionID, in.ServerSessionID = remote, local
	}
	defer in.Zero()
	return keys.DeriveKeyBlock(&in), nil
}

// DataKey derives the key block and the data channel key of our role
// from it (dc.Role is set here).
func (k *Key) DataKey(ekm bool, dc datachannel.Config) (*datachannel.Key, error) {
	kb, err := k.KeyBlock(ekm)
	if err != nil {
		return nil, err
	}
	defer kb.Zero()
	dc.Role = k.cfg.Role
	dk, err := datachannel.NewKey(kb, dc)
	if err != nil {
		return nil, fmt.Errorf("%s: data channel key: %w", k.cfg.Peer, err)
	}
	return dk, nil
}

// Install marks the negotiation complete (the stream's hand window stops)
// and makes dk the primary data key in ks.
func (k *Key) Install(ks *datachannel.Keys, dk *datachannel.Key) {
	k.conn.HandshakeComplete()
	ks.Install(dk, true)
}

// Complete marks the negotiation complete: the stream's hand window stops.
func (k *Key) Complete() { k.conn.HandshakeComplete() }

// Zero wipes the key-method-2 secrets of both sides; KeyBlock then works
// only with the TLS exporter.
func (k *Key) Zero() {
	k.mine.Zero()
	if k.Peer != nil {
		k.Peer.Zero()
		k.Peer = nil
	}
}
