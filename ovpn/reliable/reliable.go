package reliable

import (
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// Defaults from OpenVPN 2.6.
const (
	DefaultSendWindow     = 6
	DefaultRecvWindow     = 12
	DefaultInitialTimeout = 2 * time.Second
	DefaultMaxTimeout     = 60 * time.Second
	// DefaultMinTimeout is the shortest retransmit timeout an RTT estimate
	// may give (Config.RTT).
	DefaultMinTimeout = 200 * time.Millisecond
	// FastRetransmitAcks is how many later packets must be acknowledged
	// before an unacknowledged packet is resent without waiting.
	FastRetransmitAcks = 3
	// recentAcks is how many already-sent ACK ids are remembered to be
	// repeated in later packets (OpenVPN's "lru acks"), which makes a lost
	// ACK harmless when the peer never retransmits (stateless reset reply).
	recentAcks = 8
)

// Config tunes a Reliable. Zero fields take the defaults.
type Config struct {
	SendWindow     int
	RecvWindow     int
	InitialTimeout time.Duration // tls-timeout
	MaxTimeout     time.Duration // cap for the doubling
	// RTT, when set, measures the round trip from acknowledgements and
	// gives each packet's first retransmit timeout: the estimate's, within
	// MinTimeout..InitialTimeout (InitialTimeout until there is a sample).
	// The key streams of one control channel share it.
	RTT *RTT
	// MinTimeout bounds the estimated timeout from below (default 200 ms).
	MinTimeout time.Duration
	// FirstSendID and FirstRecvID start the sequences somewhere other than 0
	// (a server whose reset was answered statelessly starts both at 1).
	FirstSendID uint32
	FirstRecvID uint32
}

// Packet is an outgoing packet: the opcode it was queued with, its packet id
// and payload. The payload is owned by the Reliable; do not modify it.
type Packet struct {
	Opcode   wire.Opcode
	PacketID uint32
	Payload  []byte
}

type sendSlot struct {
	Packet
	sent      bool
	sentAt    time.Time // last transmission
	due       time.Time
	timeout   time.Duration
	laterAcks int
	sends     int
}

type recvSlot struct {
	used    bool
	op      wire.Opcode
	payload []byte
}

// Reliable is the reliability state of one key_id. Not safe for concurrent use.
type Reliable struct {
	cfg Config

	nextSendID uint32
	inflight   []*sendSlot // ordered by packet id, at most SendWindow
	backlog    []Packet    // not yet given a packet id

	nextRecvID uint32
	recv       []recvSlot // ring indexed by id % RecvWindow

	acks   []uint32 // to be sent, FIFO
	recent []uint32 // sent recently, newest last

	// Stats.
	Retransmits int
}

// New returns a Reliable with cfg's windows and timeouts.
func New(cfg Config) *Reliable {
	if cfg.SendWindow <= 0 {
		cfg.SendWindow = DefaultSendWindow
	}
	if cfg.RecvWindow <= 0 {
		cfg.RecvWindow = DefaultRecvWindow
	}
	if cfg.InitialTimeout <= 0 {
		cfg.InitialTimeout = DefaultInitialTimeout
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultMaxTimeout
	}
	if cfg.MaxTimeout < cfg.InitialTimeout {
		cfg.MaxTimeout = cfg.InitialTimeout
	}
	if cfg.MinTimeout <= 0 {
		cfg.MinTimeout = DefaultMinTimeout
	}
	if cfg.MinTimeout > cfg.InitialTimeout {
		cfg.MinTimeout = cfg.InitialTimeout
	}
	return &Reliable{
		cfg:        cfg,
		nextSendID: cfg.FirstSendID,
		nextRecvID: cfg.FirstRecvID,
		recv:       make([]recvSlot, cfg.RecvWindow),
	}
}

// Send queues payload (copied) to go out as a packet of opcode op. Packets
// get their ids in queue order and enter the send window as it frees up.
func (r *Reliable) Send(op wire.Opcode, payload []byte) {
	r.backlog = append(r.backlog, Packet{Opcode: op, Payload: append([]byte(nil), payload...)})
	r.fill()
}

func (r *Reliable) fill() {
	for len(r.inflight) < r.cfg.SendWindow && len(r.backlog) > 0 {
		p := r.backlog[0]
		r.backlog[0] = Packet{}
		r.backlog = r.backlog[1:]
		p.PacketID = r.nextSendID
		r.nextSendID++
		r.inflight = append(r.inflight, &sendSlot{Packet: p, timeout: r.cfg.InitialTimeout})
	}
	if len(r.backlog) == 0 {
		r.backlog = nil
	}
}

// Queued returns the number of packets not yet acknowledged (in flight and waiting).
func (r *Reliable) Queued() int { return len(r.inflight) + len(r.backlog) }

// Idle reports whether every queued packet has been acknowledged.
func (r *Reliable) Idle() bool { return r.Queued() == 0 }

// Acked reports whether the packet with id has been sent and acknowledged.
func (r *Reliable) Acked(id uint32) bool {
	if id >= r.nextSendID {
		return false
	}
	for _, s := range r.inflight {
		if s.PacketID == id {
			return false
		}
	}
	return true
}

// Pending appends to dst the packets that must be transmitted at now: those
// never sent, those whose retransmit timer expired and those due for fast
// retransmit. It records them as sent at now.
func (r *Reliable) Pending(now time.Time, dst []Packet) []Packet {
	for _, s := range r.inflight {
		if s.sent && now.Before(s.due) && s.laterAcks < FastRetransmitAcks {
			continue
		}
		if s.sent {
			r.Retransmits++
			s.timeout *= 2
			if s.timeout > r.cfg.MaxTimeout {
				s.timeout = r.cfg.MaxTimeout
			}
		} else {
			s.timeout = r.firstTimeout()
		}
		s.sent = true
		s.sends++
		s.laterAcks = 0
		s.sentAt = now
		s.due = now.Add(s.timeout)
		dst = append(dst, s.Packet)
	}
	return dst
}

// NextTimeout returns when Pending next has something to send because of a
// retransmit timer, and false when nothing waits for a timer.
func (r *Reliable) NextTimeout() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, s := range r.inflight {
		if !s.sent {
			continue
		}
		if !ok || s.due.Before(t) {
			t, ok = s.due, true
		}
	}
	return t, ok
}

// HasUnsent reports whether Pending would return packets never sent before.
func (r *Reliable) HasUnsent() bool {
	for _, s := range r.inflight {
		if !s.sent {
			return true
		}
	}
	return false
}

// firstTimeout is the retransmit timeout of a packet's first
// transmission: tls-timeout, or the RTT estimate's when there is one.
func (r *Reliable) firstTimeout() time.Duration {
	if r.cfg.RTT == nil {
		return r.cfg.InitialTimeout
	}
	return r.cfg.RTT.Timeout(r.cfg.MinTimeout, r.cfg.InitialTimeout)
}

// ProcessAcks removes the acknowledged packet ids, received at now, from
// the send window. Unknown ids (already acknowledged, never sent) are
// ignored. An ACK for a packet sent only once is a round-trip sample for
// Config.RTT (a retransmitted one's is ambiguous: Karn's rule).
func (r *Reliable) ProcessAcks(now time.Time, ids []uint32) {
	for _, id := range ids {
		for i, s := range r.inflight {
			if s.PacketID != id {
				continue
			}
			if !s.sent {
				break // an ACK for a packet we never sent is bogus
			}
			if r.cfg.RTT != nil && s.sends == 1 {
				r.cfg.RTT.Sample(now.Sub(s.sentAt))
			}
			copy(r.inflight[i:], r.inflight[i+1:])
			r.inflight[len(r.inflight)-1] = nil
			r.inflight = r.inflight[:len(r.inflight)-1]
			for _, e := range r.inflight[:i] {
				if e.sent {
					e.laterAcks++
				}
			}
			break
		}
	}
	r.fill()
}

// Receive takes the reliable part of a decoded control packet received at
// now: its ACKs and, unless it is an ACK_V1, its packet id and payload
// (copied). It returns an error, and changes nothing but ACK state, for a
// packet outside the receive window. Duplicates are acknowledged again.
func (r *Reliable) Receive(now time.Time, p *wire.Control) error {
	r.ProcessAcks(now, p.Acks)
	if !p.Opcode.HasPacketID() {
		return nil
	}
	id := p.PacketID
	if id < r.nextRecvID {
		r.queueAck(id) // duplicate: the peer missed our ACK
		return nil
	}
	if id-r.nextRecvID >= uint32(r.cfg.RecvWindow) {
		return fmt.Errorf("reliable: packet id %d is beyond the receive window (expecting %d..%d)", id, r.nextRecvID, r.nextRecvID+uint32(r.cfg.RecvWindow)-1)
	}
	r.queueAck(id)
	s := &r.recv[id%uint32(r.cfg.RecvWindow)]
	if !s.used {
		*s = recvSlot{used: true, op: p.Opcode, payload: append([]byte(nil), p.Payload...)}
	}
	return nil
}

// Next returns the next in-order received packet, if it has arrived.
func (r *Reliable) Next() (Packet, bool) {
	s := &r.recv[r.nextRecvID%uint32(r.cfg.RecvWindow)]
	if !s.used {
		return Packet{}, false
	}
	p := Packet{Opcode: s.op, PacketID: r.nextRecvID, Payload: s.payload}
	*s = recvSlot{}
	r.nextRecvID++
	return p, true
}

// NextRecvID is the id of the next packet Next will deliver.
func (r *Reliable) NextRecvID() uint32 { return r.nextRecvID }

func (r *Reliable) queueAck(id uint32) {
	for _, a := range r.acks {
		if a == id {
			return
		}
	}
	r.acks = append(r.acks, id)
}

// HasAcks reports whether ACKs are waiting to be sent.
func (r *Reliable) HasAcks() bool { return len(r.acks) > 0 }

// Acks appends up to max ACK ids to dst: first the ids waiting to be
// acknowledged (which are then considered sent), then, when fill is true and
// room is left, recently sent ids again so that one lost ACK does no harm.
func (r *Reliable) Acks(dst []uint32, max int, fill bool) []uint32 {
	start := len(dst)
	n := 0
	for n < max && n < len(r.acks) {
		dst = append(dst, r.acks[n])
		n++
	}
	r.acks = r.acks[:copy(r.acks, r.acks[n:])]
	if fill {
		for i := len(r.recent) - 1; i >= 0 && len(dst)-start < max; i-- {
			if !contains(dst[start:], r.recent[i]) {
				dst = append(dst, r.recent[i])
			}
		}
	}
	for _, id := range dst[start : start+n] {
		r.remember(id)
	}
	return dst
}

func (r *Reliable) remember(id uint32) {
	for i, a := range r.recent {
		if a == id {
			r.recent = append(r.recent[:i], r.recent[i+1:]...)
			break
		}
	}
	if len(r.recent) == recentAcks {
		r.recent = append(r.recent[:0], r.recent[1:]...)
	}
	r.recent = append(r.recent, id)
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// RTT estimates the round-trip time of a control channel from ACKs, as TCP
// does (RFC 6298: smoothed RTT plus four deviations), so that a lost
// control packet is resent after a few round trips rather than after the
// fixed tls-timeout, doubled per loss. The zero value has no sample. Not
// safe for concurrent use (a control channel uses it under its lock).
type RTT struct {
	srtt, rttvar time.Duration
	samples      int
}

// Sample adds one measured round trip.
func (e *RTT) Sample(d time.Duration) {
	if d < 0 {
		return
	}
	if e.samples == 0 {
		e.srtt, e.rttvar = d, d/2
	} else {
		dev := e.srtt - d
		if dev < 0 {
			dev = -dev
		}
		e.rttvar = (3*e.rttvar + dev) / 4
		e.srtt = (7*e.srtt + d) / 8
	}
	e.samples++
}

// Samples is the number of round trips measured.
func (e *RTT) Samples() int { return e.samples }

// Smoothed is the smoothed round-trip time (0 before the first sample).
func (e *RTT) Smoothed() time.Duration { return e.srtt }

// Timeout is the retransmit timeout: srtt + 4*rttvar within lo..hi, and hi
// before the first sample.
func (e *RTT) Timeout(lo, hi time.Duration) time.Duration {
	if e.samples == 0 {
		return hi
	}
	return min(max(e.srtt+4*e.rttvar, lo), hi)
}
