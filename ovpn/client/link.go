package client

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// pushRequestInterval is how often PUSH_REQUEST is repeated until answered.
const pushRequestInterval = 5 * time.Second

// keyTransition is how long an old data key keeps decrypting after a
// renegotiation (OpenVPN's transition-window default).
const keyTransition = 60 * time.Second

// login is what the client authenticates with on one connection.
type login struct {
	user, pass string
	aws        bool // AWS key-method-2 framing
}

// authError is a server refusal (AUTH_FAILED).
type authError struct {
	msg    ctrlmsg.AuthFailed
	server netip.AddrPort // the server that refused
}

func (e *authError) Error() string {
	if e.msg.Reason == "" {
		return "the server refused the credentials (AUTH_FAILED)"
	}
	return "the server refused the credentials: " + e.msg.Reason
}

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
	dataV2 bool
	peerID uint32

	// data receives decrypted-ready data packets; set once the tunnel runs.
	data atomic.Pointer[func([]byte)]

	msgs chan string // control messages from every TLS session
	fail chan error  // fatal link errors (first one wins)

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
	hctx, hcancel := context.WithTimeout(ctx, timeout)
	defer hcancel()
	d := transport.Dialer{Control: cfg.SocketControl}
	l.conn, err = d.Dial(hctx, proto, addr)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := l.handshake(hctx, onAnswer); err != nil {
		l.close()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("%s: no answer from the server within %s (TLS key negotiation failed); check the address, port and protocol, the firewall, and tls-auth/tls-crypt keys", l.peer, timeout.Round(time.Second))
		}
		return nil, err
	}
	return l, nil
}

func (l *link) wrapper() (tlswrap.Wrapper, error) {
	p := l.prof
	switch {
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
	kb, err := l.negotiateKey(ctx, 0, l.ch.Stream(0), true)
	if err != nil {
		return err
	}
	dk, err := l.newDataKey(kb, 0)
	kb.Zero()
	if err != nil {
		return err
	}
	l.keys.Install(dk, true)
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

// onSoftReset runs a renegotiation the server started.
func (l *link) onSoftReset(keyID uint8, s *control.Stream) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.renegotiate(keyID, s)
	}()
}

// renegotiate runs TLS and key method 2 on a new key id, installs the new
// data key as primary and retires the old one after the transition window.
func (l *link) renegotiate(keyID uint8, s *control.Stream) {
	ctx, cancel := context.WithTimeout(l.ctx, control.DefaultHandWindow)
	defer cancel()
	l.log.Info("renegotiating data channel keys", "key_id", keyID)
	kb, err := l.negotiateKey(ctx, keyID, s, false)
	if err != nil {
		if l.ctx.Err() == nil {
			l.failWith(fmt.Errorf("%s: key renegotiation failed: %w", l.peer, err))
		}
		return
	}
	dk, err := l.newDataKey(kb, keyID)
	kb.Zero()
	if err != nil {
		l.failWith(err)
		return
	}
	l.mu.Lock()
	old := l.keyID
	l.keyID = keyID
	var stale []uint8
	for id := range l.tlsFor {
		if id != keyID && id != old {
			stale = append(stale, id)
			delete(l.tlsFor, id)
		}
	}
	l.mu.Unlock()
	// Only the new key and the one before it stay: a key older than that
	// belongs to a renegotiation that has been superseded.
	for _, id := range stale {
		l.keys.Remove(id)
		l.ch.RetireKey(id)
	}
	l.keys.Install(dk, true)
	l.log.Info("data channel keys renegotiated", "key_id", keyID, "cipher", l.cipher.String())
	t := time.NewTimer(keyTransition)
	defer t.Stop()
	select {
	case <-t.C:
		l.mu.Lock()
		_, still := l.tlsFor[old]
		if still && old != l.keyID {
			delete(l.tlsFor, old)
		}
		cur := l.keyID
		l.mu.Unlock()
		if still && old != cur {
			l.keys.Remove(old)
			l.ch.RetireKey(old)
		}
	case <-l.ctx.Done():
	}
}

// renegotiateNow starts a client-initiated renegotiation.
func (l *link) renegotiateNow() {
	l.mu.Lock()
	next := wire.NextKeyID(l.keyID)
	_, inUse := l.tlsFor[next]
	delete(l.tlsFor, next)
	l.mu.Unlock()
	if inUse {
		l.keys.Remove(next)
		l.ch.RetireKey(next)
	}
	s, err := l.ch.NewKey(next)
	if err != nil {
		l.failWith(fmt.Errorf("%s: cannot start renegotiation: %w", l.peer, err))
		return
	}
	l.onSoftReset(next, s)
}

// negotiateKey runs TLS and the key-method-2 exchange on one key's stream.
// With first, it also requests and waits for the pushed configuration.
func (l *link) negotiateKey(ctx context.Context, keyID uint8, s *control.Stream, first bool) (*keys.KeyBlock, error) {
	tc := tls.Client(s, l.tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%s: TLS handshake failed: %w", l.peer, err)
	}
	cs := tc.ConnectionState()
	l.log.Debug("TLS established", "version", tls.VersionName(cs.Version), "suite", tls.CipherSuiteName(cs.CipherSuite), "key_id", keyID)

	var mine km2.Message
	mine.Framing = l.framing
	mine.Sender = wire.RoleClient
	for _, b := range [][]byte{mine.PreMaster[:], mine.Random1[:], mine.Random2[:]} {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
	}
	defer mine.Zero()
	mine.Options = l.occ()
	mine.Username, mine.Password = l.login.user, l.login.pass
	if !first {
		// Renegotiations authenticate with the pushed session token, so a
		// one-time code or a password that changed is not needed again.
		l.mu.Lock()
		if l.push != nil && l.push.AuthToken != "" {
			mine.Password = l.push.AuthToken
			if l.push.AuthTokenUser != "" {
				mine.Username = l.push.AuthTokenUser
			}
		}
		l.mu.Unlock()
	}
	mine.PeerInfo = l.peerInfo()
	if _, err := mine.WriteTo(tc); err != nil {
		return nil, fmt.Errorf("%s: sending key exchange: %w", l.peer, err)
	}
	br := bufio.NewReaderSize(tc, 4096)
	theirs, err := l.readServerKey(ctx, br)
	if err != nil {
		return nil, err
	}
	defer theirs.Zero()
	s.HandshakeComplete()

	l.mu.Lock()
	l.tlsFor[keyID] = tc
	l.mu.Unlock()
	// From here on the TLS session carries text control messages.
	l.wg.Add(1)
	go l.messageLoop(tc, br)

	if first {
		if err := l.pull(ctx); err != nil {
			return nil, err
		}
	}
	if l.ekm {
		kb, err := keys.ExportKeyBlock(&cs)
		if err != nil {
			return nil, fmt.Errorf("%s: deriving keys with the TLS exporter: %w", l.peer, err)
		}
		return kb, nil
	}
	in := keys.PRFInput{PreMaster: mine.PreMaster, ClientRandom1: mine.Random1, ClientRandom2: mine.Random2,
		ServerRandom1: theirs.Random1, ServerRandom2: theirs.Random2}
	in.ClientSessionID = l.ch.LocalSessionID()
	rid, _ := l.ch.RemoteSessionID()
	in.ServerSessionID = rid
	defer in.Zero()
	return keys.DeriveKeyBlock(&in), nil
}

// readServerKey reads the server's key-method-2 message. A server that
// refuses the client may send AUTH_FAILED instead.
func (l *link) readServerKey(ctx context.Context, br *bufio.Reader) (*km2.Message, error) {
	type result struct {
		m   *km2.Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		head, err := br.Peek(4)
		if err == nil && head[0] >= 'A' && head[0] <= 'Z' {
			msg, err := ctrlmsg.ReadMessage(br)
			if err != nil {
				done <- result{nil, err}
				return
			}
			if m, perr := ctrlmsg.Parse(msg); perr == nil {
				if af, ok := m.(ctrlmsg.AuthFailed); ok {
					done <- result{nil, &authError{af, l.server}}
					return
				}
			}
			done <- result{nil, fmt.Errorf("%s: unexpected control message %q before the key exchange", l.peer, ctrlmsg.Redact(msg))}
			return
		}
		m, err := km2.Read(br, wire.RoleServer)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			var ae *authError
			if errors.As(r.err, &ae) {
				return nil, r.err
			}
			return nil, fmt.Errorf("%s: reading the server's key exchange: %w", l.peer, r.err)
		}
		return r.m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// messageLoop forwards text control messages of one TLS session.
func (l *link) messageLoop(tc *tls.Conn, br *bufio.Reader) {
	defer l.wg.Done()
	for {
		msg, err := ctrlmsg.ReadMessage(br)
		if err != nil {
			l.mu.Lock()
			current := l.tlsFor[l.keyID] == tc
			l.mu.Unlock()
			if l.ctx.Err() == nil && current && !errors.Is(err, io.EOF) {
				l.log.Debug("control session ended", "err", err)
			}
			return
		}
		if msg == "" {
			continue
		}
		select {
		case l.msgs <- msg:
		case <-l.ctx.Done():
			return
		}
	}
}

// sendMessage writes a text control message on the current TLS session.
func (l *link) sendMessage(m ctrlmsg.Message) error {
	l.mu.Lock()
	tc := l.tlsFor[l.keyID]
	l.mu.Unlock()
	if tc == nil {
		return errors.New("no control session")
	}
	_, err := tc.Write(ctrlmsg.Encode(m))
	return err
}

// pull sends PUSH_REQUEST until the server's PUSH_REPLY arrives.
func (l *link) pull(ctx context.Context) error {
	var acc ctrlmsg.PushAccumulator
	tick := time.NewTicker(pushRequestInterval)
	defer tick.Stop()
	if err := l.sendMessage(ctrlmsg.PushRequest{}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.fail:
			return err
		case <-tick.C:
			if err := l.sendMessage(ctrlmsg.PushRequest{}); err != nil {
				return err
			}
		case raw := <-l.msgs:
			m, err := ctrlmsg.Parse(raw)
			if err != nil {
				l.log.Warn("ignored malformed control message", "err", err)
				continue
			}
			switch m := m.(type) {
			case ctrlmsg.PushReply:
				done, err := acc.Add(m)
				if err != nil {
					return fmt.Errorf("%s: %w", l.peer, err)
				}
				if done {
					return l.applyPush(acc.Options())
				}
			case ctrlmsg.AuthFailed:
				return &authError{m, l.server}
			case ctrlmsg.AuthPending:
				l.log.Info("server is waiting for authentication to complete", "timeout", m.Timeout)
			case ctrlmsg.Info:
				l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: m.String()})
			case ctrlmsg.Restart:
				return fmt.Errorf("%s: server asked to restart: %s", l.peer, m.Reason)
			case ctrlmsg.Halt:
				return fmt.Errorf("%w: %s", clientapi.ErrHalted, m.Reason)
			default:
				l.log.Debug("ignored control message while waiting for the configuration", "msg", m.String())
			}
		}
	}
}

// applyPush interprets the pushed options.
func (l *link) applyPush(options []string) error {
	kept, ignored, err := ctrlmsg.ApplyPullFilters(options, pullFilters(l.prof))
	if err != nil {
		return fmt.Errorf("%s: pull-filter: %w", l.peer, err)
	}
	for _, o := range ignored {
		l.log.Info("pull-filter ignored a pushed option", "option", o)
	}
	po, err := ctrlmsg.ParsePushOptions(kept)
	if err != nil {
		return fmt.Errorf("%s: the server pushed an invalid configuration: %w", l.peer, err)
	}
	l.reportIgnored(po.Ignored, ignored)
	if n := len(po.Routes) + len(po.RoutesIPv6); n > maxPushedRoutes {
		return fmt.Errorf("%s: the server pushed %d routes; cvpn accepts at most %d (AWS allows 10 per endpoint by default)", l.peer, n, maxPushedRoutes)
	}
	if po.IfConfig == nil && po.IfConfigIPv6 == nil {
		return fmt.Errorf("%s: the server pushed no tunnel address (ifconfig)", l.peer)
	}
	name := po.Cipher
	if name == "" {
		name = l.prof.Cipher
	}
	if name == "" {
		name = "AES-256-GCM"
	}
	c, err := datachannel.ParseCipher(name)
	if err != nil {
		return fmt.Errorf("%s: pushed cipher: %w", l.peer, err)
	}
	l.cipher = c
	if !c.IsAEAD() {
		dg := l.prof.Digest
		if dg == "" {
			dg = "SHA1"
		}
		if l.auth, err = datachannel.ParseAuth(dg); err != nil {
			return fmt.Errorf("%s: %w", l.prof.Name, err)
		}
	}
	l.ekm = po.UsesEKM()
	if po.PeerID >= 0 {
		l.dataV2 = true
		l.peerID = uint32(po.PeerID)
	}
	l.push = po
	return nil
}

// maxPushedRoutes bounds the routes a server may push: installing tens of
// thousands of routes takes minutes and no real endpoint needs them.
const maxPushedRoutes = 1024

// maxIgnoredEvents bounds the events listing ignored pushed options; a
// hostile server may push thousands.
const maxIgnoredEvents = 20

// reportIgnored logs every pushed option the client does not act on and
// tells the user about them in a bounded number of events.
func (l *link) reportIgnored(unknown, filtered []string) {
	for _, o := range unknown {
		l.log.Info("ignored pushed option", "option", redactOption(o))
	}
	type item struct{ opt, why string }
	var items []item
	for _, o := range unknown {
		if o != "tun-ipv6" { // obsolete no-op that 2.6 servers still push
			items = append(items, item{o, "not used by cvpn"})
		}
	}
	for _, o := range filtered {
		items = append(items, item{o, "removed by the profile's pull-filter"})
	}
	for i, it := range items {
		if i == maxIgnoredEvents {
			l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf("ignored %d more pushed options", len(items)-i)})
			return
		}
		l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf("ignored pushed option %q (%s)", redactOption(it.opt), it.why)})
	}
}

// redactOption shortens a pushed option for display.
func redactOption(o string) string {
	if len(o) > 80 {
		return o[:80] + "…"
	}
	return o
}

func (l *link) newDataKey(kb *keys.KeyBlock, keyID uint8) (*datachannel.Key, error) {
	return datachannel.NewKey(kb, datachannel.Config{
		Cipher: l.cipher, Auth: l.auth, Role: wire.RoleClient, KeyID: keyID,
		DataV2: l.dataV2, PeerID: l.peerID, Now: l.cfg.Now,
	})
}

func (l *link) occ() string {
	p := l.prof
	o := km2.OCC{TCP: p.Proto.IsTCP(), TunMTU: p.TunMTU, Cipher: "AES-256-GCM", KeyBits: 256}
	if len(l.cfg.Profile.Remotes) > 0 {
		o.TCP = l.conn.Reliable()
	}
	if p.Compression != profile.CompressionNone {
		o.CompLZO = true
	}
	return o.String()
}

func (l *link) peerInfo() string {
	p := l.prof
	pi := km2.PeerInfo{
		Version:    "2.6.14",
		Platform:   km2.PlatformName(runtime.GOOS),
		Proto:      km2.ClientIVProto,
		Ciphers:    p.NegotiableCiphers(),
		MTU:        p.TunMTU,
		GUIVersion: "cvpn_" + l.cfg.Version,
	}
	if l.cfg.NoEKM {
		pi.Proto &^= km2.IVProtoTLSKeyExport
	}
	if p.Auth.Federated {
		pi.SSO = []string{"openurl", "crtext"}
	}
	for _, e := range p.Setenv {
		if strings.HasPrefix(e.Name, "UV_") {
			pi.Extra = append(pi.Extra, e.Name+"="+e.Value)
		}
	}
	return pi.String()
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

func pullFilters(p *profile.Profile) []ctrlmsg.PullFilter {
	var out []ctrlmsg.PullFilter
	for _, f := range p.PullFilters {
		if r, err := ctrlmsg.ParsePullFilter(f.Action, f.Text); err == nil {
			out = append(out, r)
		}
	}
	return out
}
