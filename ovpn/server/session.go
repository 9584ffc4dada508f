package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// session is one client connection.
type session struct {
	srv    *Server
	id     string
	peer   netip.AddrPort // first address; remote() is the current one
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
	expires  time.Time // end of the sign-in (Identity.Expires), zero = none
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
	floated     atomic.Pointer[netip.AddrPort] // set when the client floats (float.go)

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
			if now.Sub(ss.start) >= timeout || !ss.expires.IsZero() && !now.Before(ss.expires) {
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

func (ss *session) info() ConnectionInfo {
	st := "connecting"
	if ss.established.Load() {
		st = "active"
	}
	ci := ConnectionInfo{ID: ss.id, Status: st,
		Endpoint: ss.remote().String(), Transport: ss.transport(), Start: ss.start,
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
