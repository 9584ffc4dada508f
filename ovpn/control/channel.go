package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/cvpn/cvpn/ovpn/reliable"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Defaults.
const (
	DefaultTLSMTU     = 1250
	DefaultHandWindow = 60 * time.Second
)

// Config describes one control channel.
type Config struct {
	// Role: wire.RoleClient or wire.RoleServer.
	Role wire.Role
	// Wrapper protects packets (tls-auth, tls-crypt); nil means none.
	// It must have been built for the same Role.
	Wrapper tlswrap.Wrapper
	// Send transmits one raw packet (the session adds TCP framing). Only
	// the channel's goroutine calls it.
	Send func(pkt []byte) error
	// Now is the clock for retransmissions and the hand-window; nil = time.Now.
	Now func() time.Time
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Peer names the remote end in logs and errors (for example "udp 192.0.2.1:1194").
	Peer string
	// TLSMTU is the largest TLS payload per control packet (default 1250).
	TLSMTU int
	// TLSTimeout is the initial retransmit timeout (tls-timeout, default
	// 2 s). Once ACKs have measured the round trip, a packet is first
	// resent after the estimate's timeout instead (at least 200 ms, at most
	// TLSTimeout), then after twice as long each time.
	TLSTimeout time.Duration
	// HandWindow bounds each key negotiation (hand-window, default 60 s).
	HandWindow time.Duration
	// LocalSessionID is our session id; zero means a random one.
	LocalSessionID wire.SessionID
	// Rand is the randomness source for the session id (nil = crypto/rand).
	Rand io.Reader
	// OnSoftReset is called, from the goroutine calling HandleIncoming, when
	// the peer starts a renegotiation for a new key id. It must not block;
	// typically it starts a goroutine running the TLS handshake on s.
	OnSoftReset func(keyID uint8, s *Stream)
	// OnServerAnswer, for the client role, is called once, from the
	// goroutine calling HandleIncoming, when the server first answers the
	// hard reset: the server is there and speaks the protocol. It must not
	// block.
	OnServerAnswer func()
}

// Channel is the control channel with one peer.
type Channel struct {
	cfg   Config
	wrap  tlswrap.Wrapper
	reneg tlswrap.Wrapper // dynamic tls-crypt for key_id > 0; nil = wrap
	log   *slog.Logger
	now   func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	kickCh chan struct{}
	done   chan struct{}

	mu          sync.Mutex
	local       wire.SessionID
	remote      wire.SessionID
	remoteKnown bool
	keys        map[uint8]*Stream
	rtt         reliable.RTT // shared by the keys' retransmit timers
	err         error
	closeOnce   sync.Once

	// scratch, guarded by mu
	ctl  wire.Control
	acks []uint32
	pbuf []reliable.Packet
	in   wire.Control
}

func (cfg *Config) defaults() error {
	if cfg.Send == nil {
		return errors.New("control: Config.Send is required")
	}
	if cfg.Role != wire.RoleClient && cfg.Role != wire.RoleServer {
		return fmt.Errorf("control: unknown role %d", cfg.Role)
	}
	if cfg.Wrapper == nil {
		cfg.Wrapper = tlswrap.None{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TLSMTU <= 0 {
		cfg.TLSMTU = DefaultTLSMTU
	}
	if cfg.TLSMTU > 16000 {
		return fmt.Errorf("control: tls-mtu %d is too large", cfg.TLSMTU)
	}
	if cfg.TLSTimeout <= 0 {
		cfg.TLSTimeout = reliable.DefaultInitialTimeout
	}
	if cfg.HandWindow <= 0 {
		cfg.HandWindow = DefaultHandWindow
	}
	if cfg.Peer == "" {
		cfg.Peer = "peer"
	}
	return nil
}

func newChannel(ctx context.Context, cfg Config) (*Channel, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	local := cfg.LocalSessionID
	if local.IsZero() {
		var err error
		if local, err = wire.NewSessionID(cfg.Rand); err != nil {
			return nil, err
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &Channel{
		cfg:    cfg,
		wrap:   cfg.Wrapper,
		log:    cfg.Logger.With("peer", cfg.Peer),
		now:    cfg.Now,
		ctx:    cctx,
		cancel: cancel,
		kickCh: make(chan struct{}, 1),
		done:   make(chan struct{}),
		local:  local,
		keys:   make(map[uint8]*Stream),
	}
	return c, nil
}

func (c *Channel) relConfig() reliable.Config {
	return reliable.Config{InitialTimeout: c.cfg.TLSTimeout, RTT: &c.rtt}
}

// NewClient starts a client control channel: it sends HARD_RESET_CLIENT_V2
// for key 0 (and resends it until the server answers) and returns at once.
// Run crypto/tls.Client over Stream(0).
func NewClient(ctx context.Context, cfg Config) (*Channel, error) {
	cfg.Role = wire.RoleClient
	c, err := newChannel(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := newStream(c, 0, c.relConfig(), c.now())
	s.initiated = true
	op := wire.OpHardResetClientV2
	if _, ok := c.wrap.(*tlswrap.TLSCryptV2Client); ok {
		op = wire.OpHardResetClientV3
	}
	s.rel.Send(op, nil)
	c.keys[0] = s
	// The reset leaves now, from the caller's goroutine: the connect time
	// does not wait for the channel's goroutine to be scheduled (on a busy
	// machine that took up to 14 ms). run resends it when it is due.
	c.mu.Lock()
	out, _ := c.collectLocked(c.now(), nil)
	c.mu.Unlock()
	for _, pkt := range out {
		if err := c.cfg.Send(pkt); err != nil {
			c.log.Debug("sending control packet failed", "err", err)
		}
	}
	go c.run()
	return c, nil
}

// NewServer starts a server control channel from a client's first packet,
// a raw (still wrapped) HARD_RESET_CLIENT_V2 (or V3, tls-crypt-v2) for key 0. It answers with
// HARD_RESET_SERVER_V2. Run crypto/tls.Server over Stream(0).
func NewServer(ctx context.Context, cfg Config, reset []byte) (*Channel, error) {
	cfg.Role = wire.RoleServer
	c, err := newChannel(ctx, cfg)
	if err != nil {
		return nil, err
	}
	plain, err := c.wrap.Unwrap(reset)
	if err != nil {
		c.cancel()
		return nil, fmt.Errorf("control: first packet from %s: %w", cfg.Peer, err)
	}
	p := &c.in
	if err := p.Decode(plain); err != nil {
		c.cancel()
		return nil, fmt.Errorf("control: first packet from %s: %w", cfg.Peer, err)
	}
	if (p.Opcode != wire.OpHardResetClientV2 && p.Opcode != wire.OpHardResetClientV3) || p.KeyID != 0 {
		c.cancel()
		return nil, fmt.Errorf("control: first packet from %s is %v key %d, want %v key 0", cfg.Peer, p.Opcode, p.KeyID, wire.OpHardResetClientV2)
	}
	if p.SessionID.IsZero() {
		c.cancel()
		return nil, fmt.Errorf("control: first packet from %s has a zero session id", cfg.Peer)
	}
	c.remote, c.remoteKnown = p.SessionID, true
	s := newStream(c, 0, c.relConfig(), c.now())
	s.rel.Send(wire.OpHardResetServerV2, nil)
	c.keys[0] = s
	if err := s.rel.Receive(c.now(), p); err != nil {
		c.cancel()
		return nil, fmt.Errorf("control: first packet from %s: %w", cfg.Peer, err)
	}
	c.deliverLocked(s)
	go c.run()
	return c, nil
}

// NewServerStateless starts a server control channel whose reset exchange
// was already done statelessly by the caller (OpenVPN 2.6 style): our
// HARD_RESET_SERVER_V2 (packet id 0, sent with replay id 1 under
// cfg.LocalSessionID, which must be set) was acknowledged by the client
// whose session id is client. Both reliable sequences continue at 1 and the
// wrapper's replay ids at 2. Feed the client's packet that proved the
// cookie to HandleIncoming next.
func NewServerStateless(ctx context.Context, cfg Config, client wire.SessionID) (*Channel, error) {
	cfg.Role = wire.RoleServer
	if cfg.LocalSessionID.IsZero() {
		return nil, errors.New("control: stateless server channel needs Config.LocalSessionID (the cookie)")
	}
	if client.IsZero() {
		return nil, fmt.Errorf("control: client %s has a zero session id", cfg.Peer)
	}
	c, err := newChannel(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c.remote, c.remoteKnown = client, true
	rc := c.relConfig()
	rc.FirstSendID, rc.FirstRecvID = 1, 1
	s := newStream(c, 0, rc, c.now())
	s.peerResetSeen = true
	s.markReady()
	c.wrap.SetNextSendID(2)
	c.keys[0] = s
	go c.run()
	return c, nil
}

// LocalSessionID returns our session id.
func (c *Channel) LocalSessionID() wire.SessionID { return c.local }

// RemoteSessionID returns the peer's session id and whether it is known yet.
func (c *Channel) RemoteSessionID() (wire.SessionID, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote, c.remoteKnown
}

// Stream returns the stream of keyID, or nil.
func (c *Channel) Stream(keyID uint8) *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[keyID]
}

// NewKey starts a renegotiation: it sends SOFT_RESET_V1 for keyID (use
// wire.NextKeyID) and returns the new key's stream.
func (c *Channel) NewKey(keyID uint8) (*Stream, error) {
	if keyID > wire.KeyIDMask {
		return nil, fmt.Errorf("control: key id %d out of range", keyID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	if !c.remoteKnown {
		return nil, fmt.Errorf("control: cannot renegotiate with %s before the hard reset completed", c.cfg.Peer)
	}
	if _, ok := c.keys[keyID]; ok {
		return nil, fmt.Errorf("control: key id %d is still in use", keyID)
	}
	s := newStream(c, keyID, c.relConfig(), c.now())
	s.initiated = true
	s.rel.Send(wire.OpSoftResetV1, nil)
	c.keys[keyID] = s
	c.kick()
	return s, nil
}

// RetireKey drops keyID's reliable state and closes its stream.
func (c *Channel) RetireKey(keyID uint8) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.keys[keyID]; ok {
		s.fail(net.ErrClosed)
		delete(c.keys, keyID)
	}
}

// Done is closed when the channel's goroutine has stopped.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Err returns why the channel stopped (or its first key failed), or nil.
func (c *Channel) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops the goroutine and fails every stream with net.ErrClosed.
func (c *Channel) Close() error {
	c.shutdown(net.ErrClosed)
	<-c.done
	return nil
}

func (c *Channel) shutdown(err error) {
	c.closeOnce.Do(func() {
		c.cancel()
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		for _, s := range c.keys {
			s.fail(err)
		}
		c.mu.Unlock()
	})
}

func (c *Channel) kick() { signal(c.kickCh) }

// HandleIncoming processes one raw control packet from the peer (opcode
// already known to be a control opcode). pkt is modified in place (it is
// unwrapped there) and not retained. Bad packets are dropped and logged.
func (c *Channel) HandleIncoming(pkt []byte) {
	var cb func()
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	err := c.handleLocked(pkt, &cb)
	c.mu.Unlock()
	if err != nil {
		c.log.Info("dropped control packet", "err", err)
	}
	if cb != nil {
		cb()
	}
	c.kick()
}

func (c *Channel) handleLocked(pkt []byte, cb *func()) error {
	if len(pkt) == 0 {
		return errors.New("control: empty packet")
	}
	plain, err := c.wrapperLocked(pkt[0] & wire.KeyIDMask).Unwrap(pkt)
	if err != nil {
		return err
	}
	p := &c.in
	if err := p.Decode(plain); err != nil {
		return err
	}
	if c.remoteKnown && p.SessionID != c.remote {
		return fmt.Errorf("control: session id mismatch: %v packet from session %v, expected %v", p.Opcode, p.SessionID, c.remote)
	}
	if len(p.Acks) > 0 && p.RemoteSessionID != c.local {
		return fmt.Errorf("control: %v packet acknowledges session %v, ours is %v", p.Opcode, p.RemoteSessionID, c.local)
	}
	switch p.Opcode {
	case wire.OpHardResetClientV2, wire.OpHardResetClientV3:
		if c.cfg.Role != wire.RoleServer {
			return fmt.Errorf("control: client received %v", p.Opcode)
		}
		if p.KeyID != 0 {
			return fmt.Errorf("control: %v with key id %d, want 0", p.Opcode, p.KeyID)
		}
	case wire.OpHardResetServerV2:
		if c.cfg.Role != wire.RoleClient {
			return fmt.Errorf("control: server received %v", p.Opcode)
		}
		if p.KeyID != 0 {
			return fmt.Errorf("control: %v with key id %d, want 0", p.Opcode, p.KeyID)
		}
		if !c.remoteKnown {
			if p.SessionID.IsZero() {
				return fmt.Errorf("control: %v with a zero session id", p.Opcode)
			}
			c.remote, c.remoteKnown = p.SessionID, true
			c.log.Debug("server answered hard reset", "remote_session", c.remote.String())
			if f := c.cfg.OnServerAnswer; f != nil {
				f()
			}
		}
	}
	if !c.remoteKnown {
		return fmt.Errorf("control: %v before the server's hard reset", p.Opcode)
	}
	s := c.keys[p.KeyID]
	if s == nil {
		if p.Opcode != wire.OpSoftResetV1 {
			return fmt.Errorf("control: %v for unknown key id %d", p.Opcode, p.KeyID)
		}
		if p.PacketID != 0 {
			return fmt.Errorf("control: %v for new key id %d has packet id %d, want 0", p.Opcode, p.KeyID, p.PacketID)
		}
		s = newStream(c, p.KeyID, c.relConfig(), c.now())
		s.rel.Send(wire.OpSoftResetV1, nil)
		c.keys[p.KeyID] = s
		c.log.Info("peer started renegotiation", "key_id", p.KeyID)
		if f := c.cfg.OnSoftReset; f != nil {
			ns := s
			*cb = func() { f(ns.keyID, ns) }
		}
	}
	if s.err != nil && s.err != net.ErrClosed {
		return fmt.Errorf("control: %v for failed key id %d", p.Opcode, p.KeyID)
	}
	if err := s.rel.Receive(c.now(), p); err != nil {
		return fmt.Errorf("control: key id %d: %w", p.KeyID, err)
	}
	c.deliverLocked(s)
	return nil
}

// deliverLocked moves in-order packets of s into its read buffer.
func (c *Channel) deliverLocked(s *Stream) {
	got := false
	for len(s.rx) < maxRxBuffer {
		p, ok := s.rel.Next()
		if !ok {
			break
		}
		switch {
		case p.Opcode.IsReset():
			if p.PacketID != 0 {
				c.log.Info("reset packet with non-zero packet id ignored", "op", p.Opcode.String(), "key_id", s.keyID, "packet_id", p.PacketID)
				continue
			}
			s.peerResetSeen = true
			c.resetPayloadLocked(s, p)
		case packetPayloadOpcode(p.Opcode):
			s.rx = append(s.rx, p.Payload...)
			got = true
		}
	}
	s.markReady()
	if got {
		signal(s.rdNotify)
	}
}

// run is the channel's goroutine: it transmits, retransmits, sends ACKs
// and enforces the hand-window.
func (c *Channel) run() {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var out [][]byte
	for {
		var next time.Time
		c.mu.Lock()
		out, next = c.collectLocked(c.now(), out[:0])
		c.mu.Unlock()
		for _, pkt := range out {
			if err := c.cfg.Send(pkt); err != nil {
				c.log.Debug("sending control packet failed", "err", err)
			}
		}
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(c.now()), time.Millisecond)
		}
		timer.Reset(d)
		select {
		case <-c.ctx.Done():
			c.shutdown(fmt.Errorf("control channel with %s stopped: %w", c.cfg.Peer, context.Cause(c.ctx)))
			return
		case <-c.kickCh:
		case <-timer.C:
		}
	}
}

func (c *Channel) collectLocked(now time.Time, out [][]byte) ([][]byte, time.Time) {
	var next time.Time
	setNext := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	ids := make([]uint8, 0, len(c.keys))
	for id := range c.keys {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		s := c.keys[id]
		if s.err != nil && s.err != net.ErrClosed {
			continue
		}
		if !s.handDone {
			if !now.Before(s.handDeadline) {
				err := fmt.Errorf("control: key id %d with %s: %w (%v)", id, c.cfg.Peer, ErrHandWindow, c.cfg.HandWindow)
				c.log.Warn("key negotiation timed out", "key_id", id, "hand_window", c.cfg.HandWindow)
				s.fail(err)
				if id == 0 && c.err == nil {
					c.err = err
				}
				continue
			}
			setNext(s.handDeadline)
		}
		if s.isReady() {
			moved := false
			for len(s.tx) > 0 && s.rel.Queued() < 2*reliable.DefaultSendWindow {
				k := min(len(s.tx), c.cfg.TLSMTU)
				s.rel.Send(wire.OpControlV1, s.tx[:k])
				s.tx = s.tx[:copy(s.tx, s.tx[k:])]
				moved = true
			}
			if moved {
				signal(s.wrNotify)
			}
		}
		c.pbuf = s.rel.Pending(now, c.pbuf[:0])
		for _, p := range c.pbuf {
			c.ctl = wire.Control{Opcode: p.Opcode, KeyID: id, SessionID: c.local, PacketID: p.PacketID, Payload: p.Payload}
			if c.remoteKnown {
				c.acks = s.rel.Acks(c.acks[:0], wire.MaxAcksControl, true)
				c.ctl.Acks, c.ctl.RemoteSessionID = c.acks, c.remote
			}
			out = c.appendPacket(out)
		}
		for c.remoteKnown && s.rel.HasAcks() {
			c.acks = s.rel.Acks(c.acks[:0], wire.MaxAcks, false)
			c.ctl = wire.Control{Opcode: wire.OpAckV1, KeyID: id, SessionID: c.local, Acks: c.acks, RemoteSessionID: c.remote}
			out = c.appendPacket(out)
		}
		if t, ok := s.rel.NextTimeout(); ok {
			setNext(t)
		}
		s.markReady()
	}
	return out, next
}

func (c *Channel) appendPacket(out [][]byte) [][]byte {
	plain, err := wire.AppendControl(make([]byte, 0, c.ctl.Len()), &c.ctl)
	if err != nil {
		c.log.Error("encoding control packet", "err", err)
		return out
	}
	w := c.wrapperLocked(c.ctl.KeyID)
	pkt, err := w.Wrap(make([]byte, 0, len(plain)+w.Overhead()), plain)
	if err != nil {
		c.log.Error("wrapping control packet", "err", err)
		return out
	}
	return append(out, pkt)
}
