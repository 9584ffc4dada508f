package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/cvpn/cvpn/ovpn/reliable"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// ErrHandWindow is wrapped by the error a Stream fails with when its key
// negotiation did not finish within the hand-window.
var ErrHandWindow = errors.New("key negotiation exceeded hand-window")

const (
	maxTxBuffer = 64 << 10  // bytes written but not yet packetised
	maxRxBuffer = 256 << 10 // bytes delivered but not yet read
)

// Stream is the TLS byte stream of one key_id. It implements net.Conn.
type Stream struct {
	c     *Channel
	keyID uint8
	rel   *reliable.Reliable

	initiated     bool // we sent the first reset of this key
	peerResetSeen bool
	handDeadline  time.Time
	handDone      bool

	tx []byte
	rx []byte

	rdDeadline, wrDeadline time.Time
	rdNotify, wrNotify     chan struct{}
	dead                   chan struct{}
	err                    error
	ready                  chan struct{}
	readyClosed            bool
}

func newStream(c *Channel, keyID uint8, relCfg reliable.Config, now time.Time) *Stream {
	return &Stream{
		c:            c,
		keyID:        keyID,
		rel:          reliable.New(relCfg),
		handDeadline: now.Add(c.cfg.HandWindow),
		rdNotify:     make(chan struct{}, 1),
		wrNotify:     make(chan struct{}, 1),
		dead:         make(chan struct{}),
		ready:        make(chan struct{}),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// fail ends the stream with err (first error wins). Caller holds c.mu.
func (s *Stream) fail(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	close(s.dead)
}

// isReady: both resets exchanged, TLS data may flow. Caller holds c.mu.
func (s *Stream) isReady() bool { return s.peerResetSeen && s.rel.Acked(0) }

func (s *Stream) markReady() {
	if !s.readyClosed && s.isReady() {
		s.readyClosed = true
		close(s.ready)
	}
}

// KeyID returns the key id this stream negotiates.
func (s *Stream) KeyID() uint8 { return s.keyID }

// Ready is closed once both sides' reset packets have been exchanged and
// acknowledged, that is when TLS bytes start to flow.
func (s *Stream) Ready() <-chan struct{} { return s.ready }

// Done is closed when the stream failed or was closed; Err says why.
func (s *Stream) Done() <-chan struct{} { return s.dead }

// Err returns why the stream ended, or nil.
func (s *Stream) Err() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.err
}

// HandshakeComplete tells the stream the key negotiation (TLS and key
// method 2) finished, which stops its hand-window timer.
func (s *Stream) HandshakeComplete() {
	s.c.mu.Lock()
	s.handDone = true
	s.c.mu.Unlock()
}

// Read reads TLS bytes received from the peer, in order.
func (s *Stream) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		s.c.mu.Lock()
		if len(s.rx) > 0 {
			n := copy(b, s.rx)
			s.rx = s.rx[:copy(s.rx, s.rx[n:])]
			s.c.deliverLocked(s)
			s.c.mu.Unlock()
			return n, nil
		}
		if s.err != nil {
			err := s.err
			s.c.mu.Unlock()
			return 0, err
		}
		dl := s.rdDeadline
		s.c.mu.Unlock()
		if err := waitFor(s.rdNotify, s.dead, dl); err != nil {
			return 0, err
		}
	}
}

// Write queues TLS bytes for the peer. It blocks while too much is queued.
func (s *Stream) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		s.c.mu.Lock()
		if s.err != nil {
			err := s.err
			s.c.mu.Unlock()
			return n, err
		}
		if !s.wrDeadline.IsZero() && !time.Now().Before(s.wrDeadline) {
			s.c.mu.Unlock()
			return n, os.ErrDeadlineExceeded
		}
		if room := maxTxBuffer - len(s.tx); room > 0 {
			k := min(room, len(b))
			s.tx = append(s.tx, b[:k]...)
			b = b[k:]
			n += k
			s.c.mu.Unlock()
			s.c.kick()
			continue
		}
		dl := s.wrDeadline
		s.c.mu.Unlock()
		if err := waitFor(s.wrNotify, s.dead, dl); err != nil {
			return n, err
		}
	}
	return n, nil
}

func waitFor(notify, dead <-chan struct{}, deadline time.Time) error {
	var tc <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-notify:
	case <-dead:
	case <-tc:
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Close ends the stream locally: Read and Write fail with net.ErrClosed.
// Bytes already queued (such as a TLS close_notify) are still delivered to
// the peer; the key's reliable state lives until the Channel retires it.
func (s *Stream) Close() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.fail(net.ErrClosed)
	return nil
}

// LocalAddr returns a descriptive address for the local end.
func (s *Stream) LocalAddr() net.Addr {
	return Addr(fmt.Sprintf("session %v key %d", s.c.local, s.keyID))
}

// RemoteAddr returns a descriptive address naming the peer.
func (s *Stream) RemoteAddr() net.Addr { return Addr(s.c.cfg.Peer) }

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline (wall clock, as for net.Conn).
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.c.mu.Lock()
	s.rdDeadline = t
	s.c.mu.Unlock()
	signal(s.rdNotify)
	return nil
}

// SetWriteDeadline sets the write deadline.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.c.mu.Lock()
	s.wrDeadline = t
	s.c.mu.Unlock()
	signal(s.wrNotify)
	return nil
}

// Addr is the net.Addr of a Stream: a description, not a dialable address.
type Addr string

// Network returns "openvpn-control".
func (Addr) Network() string { return "openvpn-control" }

func (a Addr) String() string { return string(a) }

var _ net.Conn = (*Stream)(nil)

// packetPayloadOpcode reports whether op carries TLS bytes.
func packetPayloadOpcode(op wire.Opcode) bool {
	return op == wire.OpControlV1 || op == wire.OpControlWKCV1
}
