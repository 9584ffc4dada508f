package hostile

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/cvpn/cvpn/internal/icmpecho"
	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/handshake"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Tunnel addresses the server hands out (topology subnet).
var (
	ServerTunnelIP = netip.MustParseAddr("10.8.0.1")
	ClientTunnelIP = netip.MustParseAddr("10.8.0.2")
)

// Config describes the server.
type Config struct {
	// Listen is the UDP address (port 0 picks a free one).
	Listen netip.AddrPort
	// PKI supplies the CA (client certificates must chain to it) and the
	// server certificate.
	PKI *pki.PKI
	// Scenario is the misbehaviour.
	Scenario Scenario
	// Logger receives what the server does (nil discards it).
	Logger *slog.Logger
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Stats counts what the server did and saw.
type Stats struct {
	Sessions        int64 // hard resets that started a session
	PushRequests    int64
	PushReplies     int64 // PUSH_REPLY messages sent
	SoftResets      int64 // renegotiations started
	Renegotiated    int64 // renegotiations completed
	DataIn          int64 // data packets decrypted
	DataInvalid     int64 // data packets that failed to decrypt
	EchoRequestsIn  int64 // client pings of ServerTunnelIP answered
	EchoRepliesIn   int64 // answers to Probe requests
	ClientDisowned  int64 // sessions replaced by a new hard reset
	LastSessionPeer string
}

// Server is a running hostile server.
type Server struct {
	cfg    Config
	pc     *net.UDPConn
	tlsCfg *tls.Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	sess *session
	st   Stats
	// replies records Probe answers: echo seq -> count.
	replies map[uint16]int
	probeID uint16
}

// session is one client.
type session struct {
	s      *Server
	peer   netip.AddrPort
	ch     *control.Channel
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	keys      datachannel.Keys
	kb        *keys.KeyBlock // current key block (for wrong-key-id probes)
	keyID     uint8
	tlsFor    map[uint8]*tls.Conn
	dataV2    bool
	ekm       bool
	connected chan struct{} // closed at the first PUSH_REPLY
	connOnce  sync.Once
}

// Start listens and serves until ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.PKI == nil {
		return nil, errors.New("hostile: Config.PKI is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Listen))
	if err != nil {
		return nil, fmt.Errorf("hostile: listen udp %s: %w", cfg.Listen, err)
	}
	s := &Server{cfg: cfg, pc: pc, replies: map[uint16]int{}}
	s.tlsCfg = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cfg.PKI.Server.Cert.Raw}, PrivateKey: cfg.PKI.Server.Key}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cfg.PKI.CA.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(2)
	go s.readLoop()
	go func() {
		defer s.wg.Done()
		<-s.ctx.Done()
		s.pc.Close()
	}()
	return s, nil
}

// Addr is the UDP address the server listens on.
func (s *Server) Addr() netip.AddrPort { return s.pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

// Close stops the server and waits for its goroutines.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	ss := s.sess
	s.sess = nil
	s.mu.Unlock()
	if ss != nil {
		ss.stop()
	}
	return nil
}

func (s *Server) current() *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess
}

func (s *Server) readLoop() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		op, _, err := wire.PeekHeader(pkt)
		if err != nil {
			continue
		}
		ss := s.current()
		if op == wire.OpHardResetClientV2 && (ss == nil || ss.peer != from || !ss.knowsReset(pkt)) {
			s.newSession(from, pkt)
			continue
		}
		if ss == nil || ss.peer != from {
			continue
		}
		if op.IsData() {
			ss.handleData(pkt)
		} else {
			ss.ch.HandleIncoming(pkt)
		}
	}
}

// knowsReset reports whether pkt is a resend of the current session's
// hard reset (same client session id).
func (ss *session) knowsReset(pkt []byte) bool {
	c, err := wire.DecodeControl(pkt)
	if err != nil {
		return false
	}
	id, ok := ss.ch.RemoteSessionID()
	return ok && id == c.SessionID
}

func (s *Server) newSession(from netip.AddrPort, reset []byte) {
	s.mu.Lock()
	old := s.sess
	s.sess = nil
	s.mu.Unlock()
	if old != nil {
		old.stop()
		s.count(func(st *Stats) { st.ClientDisowned++ })
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &session{s: s, peer: from, ctx: ctx, cancel: cancel, tlsFor: map[uint8]*tls.Conn{}, connected: make(chan struct{})}
	send := func(p []byte) error { _, err := s.pc.WriteToUDPAddrPort(p, from); return err }
	ch, err := control.NewServer(ctx, control.Config{Role: wire.RoleServer, Wrapper: tlswrap.None{}, Send: send,
		Now: s.cfg.Now, Logger: s.cfg.Logger, Peer: "udp " + from.String(), OnSoftReset: ss.onSoftReset}, reset)
	if err != nil {
		cancel()
		s.cfg.Logger.Warn("hostile: refused hard reset", "peer", from, "err", err)
		return
	}
	ss.ch = ch
	s.mu.Lock()
	s.sess = ss
	s.st.Sessions++
	s.st.LastSessionPeer = from.String()
	s.mu.Unlock()
	s.cfg.Logger.Info("hostile: new session", "peer", from, "scenario", s.cfg.Scenario.Name)
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.main()
	}()
}

// stop ends the session and waits for its goroutines.
func (ss *session) stop() {
	ss.cancel()
	ss.ch.Close()
	ss.wg.Wait()
	ss.mu.Lock()
	if ss.kb != nil {
		ss.kb.Zero()
	}
	ss.mu.Unlock()
}

func (ss *session) main() {
	hctx, cancel := context.WithTimeout(ss.ctx, 30*time.Second)
	err := ss.negotiate(hctx, 0, ss.ch.Stream(0))
	cancel()
	if err != nil {
		if ss.ctx.Err() == nil {
			ss.s.cfg.Logger.Warn("hostile: first negotiation failed", "err", err)
		}
		return
	}
	ping := time.NewTicker(time.Second)
	defer ping.Stop()
	var storm <-chan time.Time
	if d := ss.s.cfg.Scenario.SoftResetEvery; d > 0 {
		select {
		case <-ss.connected:
		case <-ss.ctx.Done():
			return
		}
		t := time.NewTicker(d)
		defer t.Stop()
		storm = t.C
	}
	for {
		select {
		case <-ss.ctx.Done():
			return
		case <-ping.C:
			ss.sendData(datachannel.AppendPing(nil))
		case <-storm:
			ss.softReset()
		}
	}
}

// softReset starts a server-initiated renegotiation on the next key id,
// retiring keys older than the previous one.
func (ss *session) softReset() {
	ss.mu.Lock()
	cur := ss.keyID
	ss.mu.Unlock()
	next := wire.NextKeyID(cur)
	for id := range uint8(8) {
		if id != cur && id != next && ss.ch.Stream(id) != nil {
			ss.ch.RetireKey(id)
		}
	}
	if ss.ch.Stream(next) != nil {
		ss.ch.RetireKey(next)
	}
	st, err := ss.ch.NewKey(next)
	if err != nil {
		ss.s.cfg.Logger.Debug("hostile: soft reset refused", "err", err)
		return
	}
	ss.mu.Lock()
	ss.keyID = next // the next storm tick moves on even if this one never completes
	ss.mu.Unlock()
	ss.s.count(func(st *Stats) { st.SoftResets++ })
	ss.renegotiateAsync(next, st)
}

func (ss *session) onSoftReset(keyID uint8, st *control.Stream) {
	ss.renegotiateAsync(keyID, st)
}

func (ss *session) renegotiateAsync(keyID uint8, st *control.Stream) {
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ctx, cancel := context.WithTimeout(ss.ctx, 20*time.Second)
		defer cancel()
		if err := ss.negotiate(ctx, keyID, st); err != nil {
			ss.s.cfg.Logger.Debug("hostile: renegotiation did not complete", "key_id", keyID, "err", err)
			return
		}
		ss.s.count(func(st *Stats) { st.Renegotiated++ })
	}()
}

// negotiate runs TLS and key method 2 on one key and installs the data
// channel key.
func (ss *session) negotiate(ctx context.Context, keyID uint8, st *control.Stream) error {
	k, err := handshake.Negotiate(ctx, st, handshake.Config{Role: wire.RoleServer, TLS: ss.s.tlsCfg, IDs: ss.ch,
		Peer: fmt.Sprintf("udp %s key %d", ss.peer, keyID), Answer: func(*handshake.Key) (string, error) {
			return km2.OCC{Server: true, Cipher: "AES-256-GCM", KeyBits: 256}.String(), nil
		}})
	if err != nil {
		return err
	}
	defer k.Zero()
	proto := km2.ParsePeerInfo(k.Peer.PeerInfo).Proto()
	ss.mu.Lock()
	if keyID == 0 {
		ss.ekm = proto&km2.IVProtoTLSKeyExport != 0
		ss.dataV2 = proto&km2.IVProtoDataV2 != 0
	}
	ekm, dataV2 := ss.ekm, ss.dataV2
	ss.tlsFor[keyID] = k.TLS
	ss.mu.Unlock()
	kb, err := k.KeyBlock(ekm)
	if err != nil {
		return err
	}
	dk, err := datachannel.NewKey(kb, datachannel.Config{Cipher: datachannel.CipherAES256GCM, Role: wire.RoleServer,
		KeyID: keyID, DataV2: dataV2, Now: ss.s.cfg.Now})
	if err != nil {
		kb.Zero()
		return err
	}
	k.Complete()
	ss.mu.Lock()
	ss.keys.Install(dk, true)
	if ss.kb != nil {
		ss.kb.Zero()
	}
	ss.kb = kb // kept for wrong-key-id probes
	ss.keyID = keyID
	ss.mu.Unlock()
	ss.wg.Add(1)
	go ss.messageLoop(k.TLS, k.Reader)
	return nil
}

// messageLoop answers the text control messages of one TLS session.
func (ss *session) messageLoop(tc *tls.Conn, br *bufio.Reader) {
	defer ss.wg.Done()
	ss.wg.Add(1)
	go func() { // closes tc when the session ends, which ends this loop
		defer ss.wg.Done()
		<-ss.ctx.Done()
		tc.Close()
	}()
	for {
		msg, err := br.ReadString(0)
		if err != nil {
			return
		}
		msg = strings.TrimSuffix(msg, "\x00")
		if msg == "PUSH_REQUEST" {
			ss.s.count(func(st *Stats) { st.PushRequests++ })
			ss.push(tc)
		}
	}
}

// basePush is a working configuration for the client.
func (ss *session) basePush() []string {
	o := []string{"route-gateway " + ServerTunnelIP.String(), "topology subnet", "ping 1", "ping-restart 10",
		"ifconfig " + ClientTunnelIP.String() + " 255.255.255.0", "cipher AES-256-GCM"}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.dataV2 {
		o = append(o, "peer-id 0")
	}
	if ss.ekm {
		o = append(o, "key-derivation tls-ekm")
	}
	return o
}

// push sends the scenario's answer to PUSH_REQUEST.
func (ss *session) push(tc *tls.Conn) {
	sc := ss.s.cfg.Scenario
	send := func(m string) bool {
		_ = tc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(tc, m+"\x00"); err != nil {
			return false
		}
		ss.s.count(func(st *Stats) { st.PushReplies++ })
		return true
	}
	defer ss.connOnce.Do(func() { close(ss.connected) })
	base := append(ss.basePush(), sc.ExtraPush...)
	if sc.EndlessContinuation {
		for i := 0; i < MaxEndless && ss.ctx.Err() == nil; i++ {
			if !send(fmt.Sprintf("PUSH_REPLY,echo part %d,push-continuation 2", i)) {
				return
			}
		}
		return
	}
	var msgs []string
	if sc.Replies != nil {
		msgs = sc.Replies(base)
	} else {
		var err error
		if msgs, err = ctrlmsg.BuildPushReplies(base, ctrlmsg.DefaultMaxPushReply); err != nil {
			ss.s.cfg.Logger.Warn("hostile: building push replies", "err", err)
			return
		}
	}
	for _, m := range msgs {
		if !send(m) {
			return
		}
	}
}

// sendData seals plain with the primary key and sends it.
func (ss *session) sendData(plain []byte) {
	ss.mu.Lock()
	pkt, err := ss.keys.Seal(nil, plain)
	ss.mu.Unlock()
	if err != nil {
		return
	}
	_, _ = ss.s.pc.WriteToUDPAddrPort(pkt, ss.peer)
}

// handleData decrypts a client data packet and answers pings of the
// server's tunnel address.
func (ss *session) handleData(pkt []byte) {
	ss.mu.Lock()
	plain, _, err := ss.keys.Open(nil, pkt)
	ss.mu.Unlock()
	if err != nil {
		ss.s.count(func(st *Stats) { st.DataInvalid++ })
		return
	}
	ss.s.count(func(st *Stats) { st.DataIn++ })
	if datachannel.IsPing(plain) {
		return
	}
	e, ok := icmpecho.Parse(plain)
	if !ok || e.Dst != ServerTunnelIP {
		return
	}
	switch e.Type {
	case icmpecho.Request:
		ss.s.count(func(st *Stats) { st.EchoRequestsIn++ })
		ss.sendData(icmpecho.Packet{Src: ServerTunnelIP, Dst: e.Src, Type: icmpecho.Reply, ID: e.ID, Seq: e.Seq, Payload: e.Payload}.Marshal())
	case icmpecho.Reply:
		ss.s.mu.Lock()
		if e.ID == ss.s.probeID {
			ss.s.replies[e.Seq]++
			ss.s.st.EchoRepliesIn++
		}
		ss.s.mu.Unlock()
	}
}

// WaitConnected waits until a session has sent its first PUSH_REPLY.
func (s *Server) WaitConnected(ctx context.Context) error {
	for {
		if ss := s.current(); ss != nil {
			select {
			case <-ss.connected:
				return nil
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hostile: no client got a PUSH_REPLY: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
