package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/server/handler"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// keyTransition is how long an old data key keeps decrypting after a
// renegotiation.
const keyTransition = 60 * time.Second

// session is one client connection.
type session struct {
	srv    *Server
	id     string
	peer   netip.AddrPort
	tcp    bool
	sendFn func([]byte) error
	ch     *control.Channel
	log    *slog.Logger
	start  time.Time

	// sendBatchFn sends several data packets at once (txBatch).
	sendBatchFn func([][]byte) error

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Set during the first key negotiation, read-only afterwards.
	cn       string
	username string
	groups   []string
	pi       km2.PeerInfoMap
	posture  []string
	ip       netip.Addr
	peerID   uint32
	dataV2   bool
	ekm      bool
	ccExit   bool
	epoch    bool // epoch data keys (client has IV_PROTO bit 10, AEAD cipher)
	dynTLS   bool // dynamic tls-crypt (client has IV_PROTO bit 9, EKM)
	cipher   datachannel.Cipher
	auth     datachannel.Auth
	token    string
	framing  km2.Framing
	push     []string // PUSH_REPLY messages

	keys datachannel.Keys

	mu     sync.Mutex
	keyID  uint8
	tlsFor map[uint8]*tls.Conn

	msgs chan string

	established atomic.Bool
	lastRecv    atomic.Int64
	lastSend    atomic.Int64
	inBytes     atomic.Uint64
	outBytes    atomic.Uint64
	inPkts      atomic.Uint64
	outPkts     atomic.Uint64
	dropped     atomic.Uint64

	endOnce   sync.Once
	endReason string // guarded by mu
	stopped   chan struct{}
}

func newConnectionID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "cvpn-connection-" + hex.EncodeToString(b[:])[:17]
}

func (s *Server) newSession(peer netip.AddrPort, tcp bool, send func([]byte) error) *session {
	ctx, cancel := context.WithCancel(s.sessCtx)
	ss := &session{srv: s, id: newConnectionID(), peer: peer, tcp: tcp, sendFn: send, start: s.now(),
		ctx: ctx, cancel: cancel, tlsFor: map[uint8]*tls.Conn{}, msgs: make(chan string, 16), stopped: make(chan struct{})}
	ss.log = s.log.With("conn", ss.id, "peer", ss.peerName())
	now := s.now().UnixNano()
	ss.lastRecv.Store(now)
	ss.lastSend.Store(now)
	return ss
}

func (ss *session) peerName() string {
	p := "udp"
	if ss.tcp {
		p = "tcp"
	}
	return p + " " + ss.peer.String()
}

func (ss *session) transport() string {
	if ss.tcp {
		return "tcp"
	}
	return "udp"
}

func (ss *session) controlConfig() (control.Config, error) {
	w, err := ss.srv.newWrapper()
	if err != nil {
		return control.Config{}, err
	}
	return control.Config{
		Role: wire.RoleServer, Wrapper: w, Send: ss.send, Now: ss.srv.now, Logger: ss.log, Peer: ss.peerName(),
		HandWindow: ss.srv.opts.HandWindow, OnSoftReset: ss.onSoftReset,
	}, nil
}

// send transmits a raw packet.
func (ss *session) send(pkt []byte) error {
	ss.lastSend.Store(ss.srv.now().UnixNano())
	return ss.sendFn(pkt)
}

// start runs the session in its own goroutine (owned by the server).
func (ss *session) run() {
	ss.srv.register(ss)
	ss.srv.wg.Add(1)
	go func() {
		defer ss.srv.wg.Done()
		defer close(ss.stopped)
		err := ss.main()
		ss.finish(err)
	}()
}

// main negotiates the first key, then serves the session until it ends.
func (ss *session) main() error {
	hw := ss.srv.opts.HandWindow
	if hw <= 0 {
		hw = control.DefaultHandWindow
	}
	hctx, hcancel := context.WithTimeout(ss.ctx, hw)
	err := ss.negotiate(hctx, 0, ss.ch.Stream(0), true)
	hcancel()
	if err != nil {
		return err
	}
	return ss.serve()
}

// serve runs timers and control messages of an established session.
func (ss *session) serve() error {
	c := ss.srv.cfg
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	timeout := time.Duration(c.SessionTimeoutHours) * time.Hour
	reneg := time.Duration(c.RenegInterval()) * time.Second
	lastReneg := ss.srv.now()
	for {
		select {
		case <-ss.ctx.Done():
			return errClosed
		case <-ss.ch.Done():
			if err := ss.ch.Err(); err != nil {
				return fmt.Errorf("control channel: %w", err)
			}
			return errClosed
		case msg := <-ss.msgs:
			m, err := ctrlmsg.Parse(msg)
			if err != nil {
				ss.log.Debug("ignored malformed control message", "err", err)
				continue
			}
			switch m.(type) {
			case ctrlmsg.PushRequest:
				ss.sendPush()
			case ctrlmsg.Exit:
				return errClientExit
			default:
				ss.log.Debug("ignored control message", "msg", ctrlmsg.Redact(m.String()))
			}
		case <-tick.C:
			now := ss.srv.now()
			if now.Sub(ss.start) >= timeout {
				ss.sendMessage("RESTART,session timeout")
				return errSessionTimeout
			}
			if now.UnixNano()-ss.lastSend.Load() >= int64(c.Ping)*int64(time.Second) {
				ss.sendPing()
			}
			if now.UnixNano()-ss.lastRecv.Load() >= 2*int64(c.PingRestart)*int64(time.Second) {
				return errPingTimeout
			}
			if reneg > 0 && now.Sub(lastReneg) >= reneg {
				lastReneg = now
				ss.renegotiateNow()
			}
			if k := ss.keys.Primary(); k != nil && k.NeedsRenegotiation() && now.Sub(lastReneg) > 10*time.Second {
				lastReneg = now
				ss.renegotiateNow()
			}
		}
	}
}

var (
	errClientExit     = errors.New("client disconnected")
	errSessionTimeout = errors.New("session timeout")
	errPingTimeout    = errors.New("keepalive timeout (no packet within ping-restart)")
)

// authFailed is a refusal already logged and sent to the client.
type authFailed struct{ err error }

func (e *authFailed) Error() string { return e.err.Error() }

// finish tears the session down exactly once and logs the end.
func (ss *session) finish(err error) {
	ss.endOnce.Do(func() {
		ss.cancel()
		ss.ch.Close()
		ss.wg.Wait()
		// Unregistered last: whoever sees the session gone from
		// Connections also sees its end in the metrics and the
		// connection log.
		defer ss.srv.unregister(ss)
		s := ss.srv
		if ss.established.Load() {
			s.m.active.Add(-1)
			s.m.addTraffic(ss)
			s.writeLog(ss, connlog.StatusSuccessful, "", ss.srv.now())
			ss.log.Info("client disconnected", "reason", describeEnd(err, ss.reason()), "ip", ss.ip.String(),
				"in_bytes", ss.inBytes.Load(), "out_bytes", ss.outBytes.Load())
			return
		}
		var af *authFailed
		if errors.As(err, &af) {
			return
		}
		ss.log.Info("connection attempt failed", "err", err)
		s.m.authFailures.Add(1)
		s.writeLog(ss, connlog.StatusFailed, failureReason(err), ss.srv.now())
	})
}

func describeEnd(err error, reason string) string {
	if reason != "" {
		return reason
	}
	if err == nil {
		return "closed"
	}
	return err.Error()
}

func failureReason(err error) string {
	var ae *AuthError
	switch {
	case errors.As(err, &ae) && ae.Reason != "":
		return ae.Reason
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, control.ErrHandWindow):
		return "tls-key-negotiation-timed-out"
	case strings.Contains(fmt.Sprint(err), "TLS handshake"):
		return "tls-handshake-failed"
	}
	return "connection-failed"
}

// shutdown tells the client to go away with msg and ends the session.
func (ss *session) shutdown(msg, reason string) {
	ss.setReason(reason)
	if ss.established.Load() {
		ss.sendMessage(msg)
		if !ss.ccExit && !ss.tcp {
			// Stock clients without cc-exit also understand the OCC exit.
			ss.sendData(datachannel.AppendOCCExit(nil), true)
		}
		// Give the reliable layer a moment to deliver the message.
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-t.C:
		case <-ss.stopped:
		}
		t.Stop()
	}
	ss.cancel()
	<-ss.stopped
}

// onSoftReset runs a renegotiation the client started.
func (ss *session) onSoftReset(keyID uint8, st *control.Stream) {
	if !ss.established.Load() {
		return
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.renegotiate(keyID, st)
	}()
}

// renegotiateNow starts a server-initiated renegotiation.
func (ss *session) renegotiateNow() {
	ss.mu.Lock()
	next := wire.NextKeyID(ss.keyID)
	ss.mu.Unlock()
	st, err := ss.ch.NewKey(next)
	if err != nil {
		ss.log.Warn("cannot start renegotiation", "err", err)
		return
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		ss.renegotiate(next, st)
	}()
}

func (ss *session) renegotiate(keyID uint8, st *control.Stream) {
	ctx, cancel := context.WithTimeout(ss.ctx, control.DefaultHandWindow)
	defer cancel()
	ss.log.Debug("renegotiating", "key_id", keyID)
	if err := ss.negotiate(ctx, keyID, st, false); err != nil {
		if ss.ctx.Err() == nil {
			ss.log.Warn("renegotiation failed; closing the session", "key_id", keyID, "err", err)
			ss.setReason("renegotiation failed")
			ss.cancel()
		}
		return
	}
	ss.mu.Lock()
	old := ss.keyID
	ss.keyID = keyID
	ss.mu.Unlock()
	ss.log.Info("data channel keys renegotiated", "key_id", keyID)
	t := time.NewTimer(keyTransition)
	defer t.Stop()
	select {
	case <-t.C:
		ss.keys.Remove(old)
		ss.ch.RetireKey(old)
		ss.mu.Lock()
		delete(ss.tlsFor, old)
		ss.mu.Unlock()
	case <-ss.ctx.Done():
	}
}

// negotiate runs TLS and key method 2 on one key. The first key also
// authenticates, authorizes and configures the client.
func (ss *session) negotiate(ctx context.Context, keyID uint8, st *control.Stream, first bool) error {
	s := ss.srv
	tc := tls.Server(st, s.tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%s: TLS handshake failed: %w", ss.peerName(), err)
	}
	cs := tc.ConnectionState()
	cn := ""
	if len(cs.PeerCertificates) > 0 {
		cn = cs.PeerCertificates[0].Subject.CommonName
	}
	type kmResult struct {
		m   *km2.Message
		err error
	}
	kmc := make(chan kmResult, 1)
	go func() {
		m, err := km2.Read(tc, wire.RoleClient)
		kmc <- kmResult{m, err}
	}()
	var theirs *km2.Message
	select {
	case r := <-kmc:
		if r.err != nil {
			return fmt.Errorf("%s: reading the client's key exchange: %w", ss.peerName(), r.err)
		}
		theirs = r.m
	case <-ctx.Done():
		tc.Close()
		return ctx.Err()
	}
	defer theirs.Zero()
	mine := km2.Message{Framing: theirs.Framing, Sender: wire.RoleServer}
	for _, b := range [][]byte{mine.Random1[:], mine.Random2[:]} {
		if _, err := rand.Read(b); err != nil {
			return err
		}
	}
	defer mine.Zero()

	if first {
		ss.cn = cn
		ss.framing = theirs.Framing
		ss.pi = km2.ParsePeerInfo(theirs.PeerInfo)
		mine.Options = ss.occ(theirs.Options)
	} else {
		mine.Options = ss.occ(theirs.Options)
		if cn != ss.cn {
			return fmt.Errorf("%s: renegotiation presented certificate %q, the session began with %q", ss.peerName(), cn, ss.cn)
		}
	}
	if _, err := mine.WriteTo(tc); err != nil {
		return fmt.Errorf("%s: sending key exchange: %w", ss.peerName(), err)
	}
	// Control messages are short; ctrlmsg.ReadMessage joins longer ones.
	br := bufio.NewReaderSize(tc, 256)
	ss.mu.Lock()
	ss.tlsFor[keyID] = tc
	if first {
		ss.keyID = keyID
	}
	ss.mu.Unlock()
	ss.wg.Add(1)
	go ss.messageLoop(tc, br)

	if first {
		if err := ss.admit(ctx, theirs); err != nil {
			return err
		}
	} else if err := ss.reauth(theirs); err != nil {
		ss.sendMessageOn(tc, "AUTH_FAILED")
		return err
	}

	var kb *keys.KeyBlock
	if ss.ekm {
		var err error
		kb, err = keys.ExportKeyBlock(&cs)
		if err != nil {
			return fmt.Errorf("%s: TLS exporter: %w", ss.peerName(), err)
		}
	} else {
		in := keys.PRFInput{PreMaster: theirs.PreMaster, ClientRandom1: theirs.Random1, ClientRandom2: theirs.Random2,
			ServerRandom1: mine.Random1, ServerRandom2: mine.Random2}
		in.ClientSessionID, _ = ss.ch.RemoteSessionID()
		in.ServerSessionID = ss.ch.LocalSessionID()
		kb = keys.DeriveKeyBlock(&in)
		in.Zero()
	}
	dk, err := datachannel.NewKey(kb, datachannel.Config{Cipher: ss.cipher, Auth: ss.auth, Role: wire.RoleServer,
		KeyID: keyID, DataV2: ss.dataV2, PeerID: ss.peerID, Now: s.now, Epoch: ss.epoch})
	kb.Zero()
	if err != nil {
		return fmt.Errorf("%s: data channel key: %w", ss.peerName(), err)
	}
	st.HandshakeComplete()
	ss.keys.Install(dk, true)
	if first && ss.dynTLS {
		w, err := tlswrap.NewDynamicTLSCrypt(&cs, s.staticWrapKey(ss.ch.Wrapper()), wire.RoleServer, s.now)
		if err != nil {
			return fmt.Errorf("%s: %w", ss.peerName(), err)
		}
		ss.ch.SetRenegWrapper(w)
	}
	if first {
		return ss.establish(ctx)
	}
	return nil
}

// admit authenticates the client, runs the connect handler and prepares
// the pushed configuration. Refusals send AUTH_FAILED and are logged.
func (ss *session) admit(ctx context.Context, m *km2.Message) error {
	s := ss.srv
	c := s.cfg
	if c.Authentication.Mutual && ss.cn == "" {
		return ss.refuse(&AuthError{Reason: "client-certificate-missing", Err: errors.New("no client certificate")})
	}
	ss.username = ss.cn
	if s.auth != nil {
		id, err := s.auth.Authenticate(ctx, AuthRequest{ConnectionID: ss.id, CommonName: ss.cn, Username: m.Username,
			Password: m.Password, PeerInfo: ss.pi, Framing: m.Framing, Client: ss.peer})
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) {
				ae = &AuthError{Reason: "authentication-failed", Err: err}
			}
			if ae.AssertionReceived {
				s.writeReset(ss)
			}
			return ss.refuse(ae)
		}
		if id.AssertionReceived {
			s.writeReset(ss)
		}
		ss.username, ss.groups, ss.token = id.Username, id.Groups, id.AuthToken
	}
	d := s.handler.Call(ctx, handler.Request{
		ConnectionID: ss.id, EndpointID: c.EndpointID, CommonName: ss.cn, Username: ss.username,
		Platform: ss.pi["IV_PLAT"], PlatformVersion: ss.pi["IV_PLAT_VER"], PublicIP: ss.peer.Addr().Unmap().String(),
		ClientOpenVPNVersion: ss.pi["IV_VER"], Groups: ss.groups,
	})
	if s.handler.Enabled() {
		s.m.countHandler(d.Reason)
	}
	ss.posture = d.Posture
	if !d.Allow {
		return ss.refuse(&AuthError{ClientMessage: d.ClientMessage, Reason: d.Reason, Err: fmt.Errorf("client connect handler: %s", d.Detail)})
	}

	// Data channel parameters.
	proto := ss.pi.Proto()
	name, ok := km2.NegotiateCipher(c.Ciphers, ss.pi.Ciphers())
	if !ok {
		occ := km2.ParseOCC(m.Options)
		if oc := occ["cipher"]; oc != "" {
			for _, sc := range c.Ciphers {
				if strings.EqualFold(sc, oc) {
					name, ok = sc, true
				}
			}
		}
	}
	if !ok {
		return ss.refuse(&AuthError{Reason: "no-shared-cipher", Err: fmt.Errorf("client offers %q, the endpoint allows %v", ss.pi["IV_CIPHERS"], c.Ciphers)})
	}
	ss.cipher, _ = datachannel.ParseCipher(name)
	if !ss.cipher.IsAEAD() {
		ss.auth, _ = datachannel.ParseAuth(c.Digest)
	}
	ss.ekm = proto&km2.IVProtoTLSKeyExport != 0
	ss.ccExit = proto&km2.IVProtoCCExitNotify != 0
	ss.epoch = proto&km2.IVProtoDataEpoch != 0 && ss.cipher.IsAEAD()
	ss.dynTLS = proto&km2.IVProtoDynTLSCrypt != 0 && ss.ekm
	if proto&km2.IVProtoDataV2 != 0 {
		ss.dataV2 = true
		ss.peerID = s.nextPeerID()
	}
	ip, err := s.pool.Allocate()
	if err != nil {
		return ss.refuse(&AuthError{ClientMessage: "TEMP[backoff 30]:no free address", Reason: "client-cidr-exhausted", Err: err})
	}
	ss.ip = ip
	if s.auth != nil && ss.token == "" {
		var tb [24]byte
		_, _ = rand.Read(tb[:])
		ss.token = base64.StdEncoding.EncodeToString(tb[:])
	}
	push, err := ctrlmsg.BuildPushReplies(ss.pushOptions(), ctrlmsg.DefaultMaxPushReply)
	if err != nil {
		return fmt.Errorf("building the push reply: %w", err)
	}
	ss.push = push
	return nil
}

// reauth checks the credentials of a renegotiation: the pushed auth token
// (or the users directory again).
func (ss *session) reauth(m *km2.Message) error {
	if ss.srv.auth == nil {
		return nil
	}
	if ss.token != "" && subtle.ConstantTimeCompare([]byte(m.Password), []byte(ss.token)) == 1 {
		return nil
	}
	if ua, ok := ss.srv.auth.(UsersAuthenticator); ok {
		if _, err := ua.Dir.Authenticate(m.Username, m.Password, ss.srv.now()); err == nil && m.Username == ss.username {
			return nil
		}
	}
	return fmt.Errorf("%s: renegotiation credentials (auth-token) do not match the session", ss.peerName())
}

// refuse sends AUTH_FAILED, logs the failed attempt and returns the error.
func (ss *session) refuse(ae *AuthError) error {
	s := ss.srv
	msg := "AUTH_FAILED"
	if ae.ClientMessage != "" {
		msg += "," + sanitize(ae.ClientMessage)
	}
	ss.sendMessage(msg)
	status := connlog.StatusFailed
	if ae.Waiting {
		status = connlog.StatusWaitingForAssertion
	} else {
		s.m.authFailures.Add(1)
	}
	s.writeLog(ss, status, ae.Reason, time.Time{})
	ss.log.Info("connection refused", "reason", ae.Reason, "err", ae.Error())
	// Let the reliable layer deliver AUTH_FAILED before the session ends.
	t := time.NewTimer(time.Second)
	select {
	case <-t.C:
	case <-ss.ctx.Done():
	}
	t.Stop()
	return &authFailed{ae}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0 || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// establish waits for PUSH_REQUEST, answers it and starts the data path.
func (ss *session) establish(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no PUSH_REQUEST: %w", ss.peerName(), ctx.Err())
		case msg := <-ss.msgs:
			if m, err := ctrlmsg.Parse(msg); err == nil {
				if _, ok := m.(ctrlmsg.PushRequest); ok {
					ss.srv.publish(ss)
					ss.established.Store(true)
					ss.srv.m.active.Add(1)
					ss.sendPush()
					ss.srv.writeLog(ss, connlog.StatusSuccessful, "", time.Time{})
					ss.log.Info("client connected", "ip", ss.ip.String(), "cn", ss.cn, "user", ss.username,
						"cipher", ss.cipher.String(), "ekm", ss.ekm, "framing", ss.framing.String())
					return nil
				}
				if _, ok := m.(ctrlmsg.Exit); ok {
					return errClientExit
				}
			}
		}
	}
}

func (ss *session) pushOptions() []string {
	c := ss.srv.cfg
	srvIP := ss.srv.pool.Server()
	mask := net.IP(net.CIDRMask(c.ClientPrefix.Bits(), 32)).String()
	o := []string{"route-gateway " + srvIP.String(), "topology subnet",
		fmt.Sprintf("ping %d", c.Ping), fmt.Sprintf("ping-restart %d", c.PingRestart)}
	if c.SplitTunnel {
		for _, r := range c.RoutePrefixes {
			o = append(o, fmt.Sprintf("route %s %s", r.Addr(), net.IP(net.CIDRMask(r.Bits(), 32))))
		}
	} else {
		o = append(o, "redirect-gateway def1")
	}
	for _, d := range c.DNS {
		o = append(o, "dhcp-option DNS "+d.String())
	}
	o = append(o, ctrlmsg.Extensions{Banner: c.LoginBanner, RouteEnforcement: c.ClientRouteEnforcement}.EchoOptions()...)
	o = append(o, fmt.Sprintf("ifconfig %s %s", ss.ip, mask))
	if ss.dataV2 {
		o = append(o, fmt.Sprintf("peer-id %d", ss.peerID))
	}
	o = append(o, "cipher "+ss.cipher.String())
	var pf []string
	switch {
	case ss.ccExit && ss.ekm:
		pf = append(pf, "cc-exit", "tls-ekm")
	case ss.ccExit:
		pf = append(pf, "cc-exit")
	case ss.ekm:
		o = append(o, "key-derivation tls-ekm")
	}
	if ss.dynTLS {
		pf = append(pf, "dyn-tls-crypt")
	}
	if ss.epoch {
		pf = append(pf, "aead-epoch")
	}
	if len(pf) > 0 {
		o = append(o, "protocol-flags "+strings.Join(pf, " "))
	}
	if ss.token != "" {
		o = append(o, "auth-token "+ss.token)
	}
	return o
}

func (ss *session) sendPush() {
	for _, m := range ss.push {
		ss.sendMessage(m)
	}
}

// occ is our options string; it mirrors the client's transport.
func (ss *session) occ(string) string {
	o := km2.OCC{Server: true, TCP: ss.tcp, Cipher: "AES-256-GCM", KeyBits: 256}
	if ss.cipher != datachannel.CipherNone {
		o.Cipher = ss.cipher.String()
		o.KeyBits = ss.cipher.KeySize() * 8
		if !ss.cipher.IsAEAD() {
			o.Auth = ss.auth.String()
		}
	}
	return o.String()
}

// messageLoop forwards text control messages of one TLS session.
func (ss *session) messageLoop(tc *tls.Conn, br *bufio.Reader) {
	defer ss.wg.Done()
	for {
		msg, err := ctrlmsg.ReadMessage(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && ss.ctx.Err() == nil {
				ss.log.Debug("control session ended", "err", err)
			}
			return
		}
		if msg == "" {
			continue
		}
		select {
		case ss.msgs <- msg:
		case <-ss.ctx.Done():
			return
		}
	}
}

// sendMessage writes a control message on the current TLS session.
func (ss *session) sendMessage(msg string) {
	ss.mu.Lock()
	tc := ss.tlsFor[ss.keyID]
	ss.mu.Unlock()
	if tc != nil {
		ss.sendMessageOn(tc, msg)
	}
}

func (ss *session) sendMessageOn(tc *tls.Conn, msg string) {
	tc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Write(append([]byte(msg), 0)); err != nil {
		ss.log.Debug("sending control message failed", "err", err)
	}
}

func (ss *session) info() ConnectionInfo {
	st := "connecting"
	if ss.established.Load() {
		st = "active"
	}
	ci := ConnectionInfo{ID: ss.id, Status: st,
		Endpoint: ss.peer.String(), Transport: ss.transport(), Start: ss.start,
		IngressBytes: ss.inBytes.Load(), EgressBytes: ss.outBytes.Load(),
		IngressPackets: ss.inPkts.Load(), EgressPackets: ss.outPkts.Load(), Dropped: ss.dropped.Load()}
	if st == "active" {
		// The handshake goroutine writes these before it marks the session
		// established (an atomic store), so they are safe to read now and
		// only now.
		ci.CommonName, ci.Username = ss.cn, ss.username
		ci.ClientIP = ss.ip.String()
	}
	return ci
}

func sortConnections(c []ConnectionInfo) {
	sort.Slice(c, func(i, j int) bool { return c[i].Start.Before(c[j].Start) })
}

// writeLog writes one connection-attempt entry.
func (s *Server) writeLog(ss *session, status, reason string, end time.Time) {
	if s.clog == nil {
		return
	}
	r := connlog.Record{Type: connlog.TypeAttempt, AttemptStatus: status, ResetStatus: connlog.NA,
		FailureReason: reason, ConnectionID: ss.id, EndpointID: s.cfg.EndpointID, Transport: ss.transport(),
		Start: ss.start, LastUpdate: s.now(), End: end, CommonName: ss.cn, DeviceType: ss.pi["IV_PLAT"],
		Device: ss.peer, IngressBytes: ss.inBytes.Load(), EgressBytes: ss.outBytes.Load(),
		IngressPackets: ss.inPkts.Load(), EgressPackets: ss.outPkts.Load(), Posture: ss.posture, Username: ss.username}
	if status == connlog.StatusSuccessful {
		r.ClientIP = ss.ip
	}
	if err := s.clog.Write(r); err != nil {
		s.log.Warn("connection log write failed", "err", err)
	}
}

// writeReset writes the connection-reset entry of a federated phase 2:
// the SAML assertion arrived on this connection.
func (s *Server) writeReset(ss *session) {
	if s.clog == nil {
		return
	}
	r := connlog.Record{Type: connlog.TypeReset, AttemptStatus: connlog.NA, ResetStatus: connlog.ResetAssertionReceived,
		ConnectionID: ss.id, EndpointID: s.cfg.EndpointID, Transport: ss.transport(), Start: ss.start, LastUpdate: s.now(),
		CommonName: ss.cn, DeviceType: ss.pi["IV_PLAT"], Device: ss.peer}
	if err := s.clog.Write(r); err != nil {
		s.log.Warn("connection log write failed", "err", err)
	}
}

func (ss *session) setReason(r string) {
	ss.mu.Lock()
	if ss.endReason == "" {
		ss.endReason = r
	}
	ss.mu.Unlock()
}

func (ss *session) reason() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.endReason
}
