package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// link is one established connection to one server address: transport,
// control channel, TLS sessions per key and data channel keys.
type link struct {
	cfg     *Config
	prof    *profile.Profile
	log     *slog.Logger
	conn    transport.Conn
	ch      *control.Channel
	peer    string
	server  netip.AddrPort
	login   login
	tlsConf *tls.Config
	framing km2.Framing

	keys   datachannel.Keys
	push   *ctrlmsg.PushOptions
	cipher datachannel.Cipher
	auth   datachannel.Auth
	ekm    bool
	epoch  bool // epoch data keys (pushed protocol-flags aead-epoch)
	dataV2 bool
	peerID uint32

	// data receives decrypted-ready data packets; set once the tunnel runs.
	data atomic.Pointer[func([]byte)]

	msgs chan string // control messages from every TLS session
	fail chan error  // fatal link errors (first one wins)
	// extendHandshake moves the handshake deadline (AUTH_PENDING);
	// pendingFor is the last pending timeout and webURL the sign-in page
	// already shown (one browser flow per page).
	extendHandshake func(time.Duration)
	pendingFor      time.Duration
	webURL          string

	mu     sync.Mutex
	keyID  uint8
	tlsFor map[uint8]*tls.Conn

	lastRecv atomic.Int64 // unix nanos of the last authenticated packet
	lastSend atomic.Int64

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// dialLink connects to one server address and runs the handshake up to the
// pushed configuration and installed data keys.
// onAnswer (may be nil) is called, without blocking, when the server first
// answers.
func dialLink(ctx context.Context, cfg *Config, remote profile.Remote, addr netip.AddrPort, lg login, timeout time.Duration, onAnswer func()) (*link, error) {
	p := cfg.Profile
	tconf, err := tlsConfig(p)
	if err != nil {
		return nil, err
	}
	proto := transport.UDP
	if remote.Proto.IsTCP() {
		proto = transport.TCP
	}
	// The link outlives a cancelled ctx long enough to say goodbye (EXIT);
	// close() ends it.
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &link{
		cfg: cfg, prof: p, log: cfg.logger().With("server", addr.String(), "proto", string(proto)),
		peer: fmt.Sprintf("%s %s", proto, addr), server: addr, login: lg, tlsConf: tconf,
		msgs: make(chan string, 16), fail: make(chan error, 1), tlsFor: map[uint8]*tls.Conn{},
		ctx: lctx, cancel: cancel,
	}
	if lg.aws {
		l.framing = km2.AWS
	}
	// The handshake's deadline is a timer so that AUTH_PENDING can move it
	// (the server's timeout for a web sign-in or a CR_TEXT answer).
	hctx, hcancel := context.WithCancelCause(ctx)
	defer hcancel(nil)
	deadline := time.AfterFunc(timeout, func() { hcancel(context.DeadlineExceeded) })
	defer deadline.Stop()
	l.extendHandshake = func(d time.Duration) { deadline.Reset(d) }
	d := transport.Dialer{Control: cfg.SocketControl}
	l.conn, err = d.Dial(hctx, proto, addr)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := l.handshake(hctx, onAnswer); err != nil {
		l.close()
		if errors.Is(context.Cause(hctx), context.DeadlineExceeded) && ctx.Err() == nil && l.pendingFor > 0 {
			return nil, fmt.Errorf("%w: %s: the server's pending authentication (AUTH_PENDING) was not completed within %s", clientapi.ErrAuthFailed, l.peer, l.pendingFor.Round(time.Second))
		}
		if errors.Is(context.Cause(hctx), context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("%s: no answer from the server within %s (TLS key negotiation failed); check the address, port and protocol, the firewall, and tls-auth/tls-crypt keys", l.peer, timeout.Round(time.Second))
		}
		return nil, err
	}
	return l, nil
}

func (l *link) wrapper() (tlswrap.Wrapper, error) {
	p := l.prof
	switch {
	case p.TLSCryptV2 != nil:
		var k [tlswrap.StaticKeyLen]byte
		copy(k[:], p.TLSCryptV2.Key.Bytes())
		return tlswrap.NewTLSCryptV2Client(k, p.TLSCryptV2.Wrapped, l.cfg.Now)
	case p.TLSCrypt != nil:
		var k [tlswrap.StaticKeyLen]byte
		copy(k[:], p.TLSCrypt.Bytes())
		return tlswrap.NewTLSCrypt(k, wire.RoleClient, l.cfg.Now)
	case p.TLSAuth != nil:
		var k [tlswrap.StaticKeyLen]byte
		copy(k[:], p.TLSAuth.Bytes())
		return tlswrap.NewTLSAuth(k, int(p.KeyDirection), p.Digest, l.cfg.Now)
	}
	return tlswrap.None{}, nil
}

// staticWrapKey is the control channel key the session started with (nil
// without one): dynamic tls-crypt mixes it into the renegotiation key.
func (l *link) staticWrapKey() []byte {
	switch p := l.prof; {
	case p.TLSCryptV2 != nil:
		return p.TLSCryptV2.Key.Bytes()
	case p.TLSCrypt != nil:
		return p.TLSCrypt.Bytes()
	case p.TLSAuth != nil:
		return p.TLSAuth.Bytes()
	}
	return nil
}

func (l *link) handshake(ctx context.Context, onAnswer func()) error {
	w, err := l.wrapper()
	if err != nil {
		return fmt.Errorf("%s: %w", l.prof.Name, err)
	}
	l.ch, err = control.NewClient(l.ctx, control.Config{
		Role:           wire.RoleClient,
		Wrapper:        w,
		Send:           l.send,
		Now:            l.cfg.Now,
		Logger:         l.log,
		Peer:           l.peer,
		OnSoftReset:    l.onSoftReset,
		OnServerAnswer: onAnswer,
	})
	if err != nil {
		return err
	}
	l.wg.Add(1)
	go l.readLoop()

	l.cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateAuthenticating, Server: l.server.String()})
	k, err := l.negotiateKey(ctx, 0, l.ch.Stream(0), true)
	if err != nil {
		return err
	}
	dk, err := k.DataKey(l.ekm, l.dataConfig(0))
	k.Zero()
	if err != nil {
		return err
	}
	k.Install(&l.keys, dk)
	now := l.cfg.now().UnixNano()
	l.lastRecv.Store(now)
	l.lastSend.Store(now)
	return nil
}

// send transmits a raw packet; it is the control channel's Send too.
func (l *link) send(pkt []byte) error {
	l.lastSend.Store(l.cfg.now().UnixNano())
	return l.conn.WritePacket(pkt)
}

// readLoop owns the socket's receive side until the link closes. It reads
// packets in batches; after a batch that held data packets it calls the
// data handler with nil so that the handler can pass its batch on.
func (l *link) readLoop() {
	defer l.wg.Done()
	// The batch starts with one buffer and doubles each time a read fills
	// it, up to rxBatch: the handshake needs one, and allocating all 64
	// (4 MiB) up front started garbage collections that delayed the
	// connection by milliseconds.
	bufs := make([][]byte, 1, rxBatch)
	sizes := make([]int, rxBatch)
	bufs[0] = make([]byte, transport.MaxPacket)
	for {
		n, err := l.conn.ReadBatch(bufs, sizes)
		if err == nil && n == len(bufs) && n < rxBatch {
			for len(bufs) < min(2*n, rxBatch) {
				bufs = append(bufs, make([]byte, transport.MaxPacket))
			}
		}
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			if !l.conn.Reliable() && errors.Is(err, syscall.ECONNREFUSED) {
				// An ICMP "port unreachable" for our UDP socket: the server
				// is not running right now. While the tunnel is up that means
				// reconnect at once (no need to wait for ping-restart); during
				// the handshake keep reading: the control channel resends its
				// reset until the server is back.
				if l.data.Load() != nil {
					l.failWith(fmt.Errorf("%s: connection lost: %w", l.peer, err))
				}
				continue
			}
			l.failWith(fmt.Errorf("%s: connection lost: %w", l.peer, err))
			return
		}
		var fn *func([]byte)
		for i := 0; i < n; i++ {
			if sizes[i] == 0 {
				continue
			}
			pkt := bufs[i][:sizes[i]]
			op := wire.Opcode(pkt[0] >> 3)
			switch {
			case op.IsData():
				if fn = l.data.Load(); fn != nil {
					(*fn)(pkt)
				}
			case op.IsControl():
				l.ch.HandleIncoming(pkt)
			default:
				l.log.Debug("dropped packet with unknown opcode", "opcode", int(op))
			}
		}
		if fn != nil {
			(*fn)(nil)
		}
	}
}

func (l *link) failWith(err error) {
	select {
	case l.fail <- err:
	default:
	}
}

// close tears the link down and waits for its goroutines.
func (l *link) close() {
	l.cancel()
	if l.ch != nil {
		l.ch.Close()
	}
	if l.conn != nil {
		l.conn.Close()
	}
	l.wg.Wait()
}
