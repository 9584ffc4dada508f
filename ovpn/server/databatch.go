package server

import (
	"errors"
	"net/netip"
	"os"

	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/mssfix"
	"github.com/cvpn/cvpn/ovpn/transport"
)

// rxBatchUDP is how many datagrams the UDP loop takes from the socket and
// how many opened packets it hands to the device at once.
const rxBatchUDP = 64

// rxBatchTCP is the batch of one TCP session (each has its own buffers).
const rxBatchTCP = 16

// slotSize is the size of one opened-packet buffer: headroom plus the
// largest packet, so that the TUN device can coalesce (GRO) into it.
const slotSize = DeviceOffset + transport.MaxPacket

// sealSlack is what sealing adds to a payload at most (header, tag, IV,
// CBC padding and HMAC).
const sealSlack = 256

// rxBatch is the receive side of one reading goroutine (the UDP loop or one
// TCP session): the data packets of one socket read are opened into slots
// and written to the device with one Write, so that it can coalesce them.
// Counters and timestamps are updated once per run of packets of one
// session. Buffers are allocated once; nothing is allocated per packet.
type rxBatch struct {
	s     *Server
	slots [][]byte // opened packets are written here
	out   [][]byte // filled part of the slots, for the device
	fwd   []byte   // seal buffer for packets between two clients

	// The session whose packets are being counted, and its counts.
	cur      *session
	curBytes uint64
	curPkts  uint64
	curFresh bool

	// Last authorization decision of cur.
	authDst netip.Addr
	authOK  bool
}

func newRxBatch(s *Server, n int) *rxBatch {
	b := &rxBatch{s: s, slots: make([][]byte, n), out: make([][]byte, 0, n), fwd: make([]byte, 0, transport.MaxPacket+sealSlack)}
	for i := range b.slots {
		b.slots[i] = make([]byte, slotSize)
	}
	return b
}

// add handles one data packet of ss; it reports whether the packet was
// authentic (opened with the session's keys).
func (b *rxBatch) add(ss *session, pkt []byte) bool {
	s := b.s
	if ss != b.cur {
		b.account()
		b.cur = ss
		b.authDst = netip.Addr{}
	}
	slot := b.slots[len(b.out)]
	out, _, err := ss.keys.Open(slot[:DeviceOffset], pkt)
	if err != nil {
		s.m.badPackets.Add(1)
		return false
	}
	b.curFresh = true
	payload := out[DeviceOffset:]
	if datachannel.IsPing(payload) {
		return true
	}
	if datachannel.IsOCCExit(payload) {
		ss.setReason("client sent exit notification")
		b.account() // publish this batch's counts before the session ends
		go ss.cancel()
		return true
	}
	if !ss.established.Load() || len(payload) < 20 || payload[0]>>4 != 4 {
		ss.dropped.Add(1)
		return true
	}
	src := netip.AddrFrom4([4]byte(payload[12:16]))
	dst := netip.AddrFrom4([4]byte(payload[16:20]))
	b.curBytes += uint64(len(payload))
	b.curPkts++
	if src != ss.ip {
		ss.dropped.Add(1)
		s.m.droppedPackets.Add(1)
		return true
	}
	if dst != b.authDst {
		b.authDst = dst
		b.authOK = dst == s.pool.Server() || s.authz.Allowed(dst, ss.groups)
	}
	if !b.authOK {
		ss.dropped.Add(1)
		s.m.droppedPackets.Add(1)
		return true
	}
	ss.clampMSS(payload)
	if s.pool.Prefix().Contains(dst) && dst != s.pool.Server() {
		if peer := s.sessionByIP(dst); peer != nil {
			peer.forward(b.fwd, payload)
		}
		return true
	}
	b.out = append(b.out, out)
	if len(b.out) == len(b.slots) {
		b.flush()
	}
	return true
}

// account publishes the counts of the current session.
func (b *rxBatch) account() {
	ss := b.cur
	if ss == nil {
		return
	}
	if b.curFresh {
		ss.lastRecv.Store(b.s.now().UnixNano())
	}
	if b.curPkts > 0 {
		ss.inBytes.Add(b.curBytes)
		ss.inPkts.Add(b.curPkts)
	}
	b.cur, b.curBytes, b.curPkts, b.curFresh = nil, 0, 0, false
}

// flush writes the packets opened so far to the device and publishes the
// counts; called at the end of every socket read.
func (b *rxBatch) flush() {
	b.account()
	if len(b.out) == 0 {
		return
	}
	if _, err := b.s.dev.Write(b.out, DeviceOffset); err != nil && !errors.Is(err, os.ErrClosed) {
		b.s.log.Debug("device write failed", "err", err)
	}
	clear(b.out)
	b.out = b.out[:0]
}

// clampMSS lowers the MSS of a TCP SYN crossing the tunnel, in either
// direction, to what fits OpenVPN 2.6's default mssfix (1492 bytes
// including the outer header) with this session's cipher and transport,
// as the OpenVPN server does: a client that does not clamp still gets
// segments that need no fragmenting on the way.
func (ss *session) clampMSS(pkt []byte) {
	if !mssfix.SYN(pkt) {
		return
	}
	k := ss.keys.Primary()
	if k == nil {
		return
	}
	v4, _ := mssfix.Targets(mssfix.DefaultMax, mssfix.DefaultMode, k.Overhead(0), ss.tcp, ss.peer.Addr().Is6())
	mssfix.Clamp(pkt, v4)
}

// forward seals one packet from another client into buf and sends it.
func (ss *session) forward(buf, payload []byte) {
	out, err := ss.keys.Seal(buf[:0], payload)
	if err != nil {
		return
	}
	if ss.send(out) == nil {
		ss.outBytes.Add(uint64(len(payload)))
		ss.outPkts.Add(1)
	}
}

// txBatch is the send side of the device loop: each packet read from the
// device is sealed into a buffer of its own, and each run of packets for
// one client leaves with one batch write (sendmmsg with UDP GSO, or one TCP
// write).
type txBatch struct {
	s      *Server
	sealed [][]byte
	out    [][]byte
	cur    *session
	bytes  uint64

	// Last destination looked up, and its session.
	lastDst netip.Addr
	lastSS  *session
}

func newTxBatch(s *Server, n int) *txBatch {
	t := &txBatch{s: s, sealed: make([][]byte, n), out: make([][]byte, 0, n)}
	for i := range t.sealed {
		t.sealed[i] = make([]byte, 0, transport.MaxPacket+sealSlack)
	}
	return t
}

// run seals and sends the packets bufs[i][offset:offset+sizes[i]].
func (t *txBatch) run(bufs [][]byte, sizes []int, n int) {
	t.lastDst, t.lastSS = netip.Addr{}, nil
	for i := 0; i < n; i++ {
		pkt := bufs[i][DeviceOffset : DeviceOffset+sizes[i]]
		if len(pkt) < 20 || pkt[0]>>4 != 4 {
			continue
		}
		dst := netip.AddrFrom4([4]byte(pkt[16:20]))
		if dst != t.lastDst {
			t.lastDst, t.lastSS = dst, t.s.sessionByIP(dst)
		}
		ss := t.lastSS
		if ss == nil {
			continue
		}
		if ss != t.cur {
			t.flush()
			t.cur = ss
		}
		ss.clampMSS(pkt)
		out, err := ss.keys.Seal(t.sealed[i][:0], pkt)
		if err != nil {
			if errors.Is(err, datachannel.ErrPacketIDExhausted) {
				ss.log.Warn("packet id space exhausted; waiting for renegotiation")
			}
			continue
		}
		t.out = append(t.out, out)
		t.bytes += uint64(len(pkt))
	}
	t.flush()
	t.lastSS = nil
}

// flush sends the sealed packets of the current session.
func (t *txBatch) flush() {
	ss := t.cur
	if ss == nil || len(t.out) == 0 {
		t.cur, t.bytes = nil, 0
		return
	}
	ss.lastSend.Store(t.s.now().UnixNano())
	if err := ss.sendBatchFn(t.out); err == nil {
		ss.outBytes.Add(t.bytes)
		ss.outPkts.Add(uint64(len(t.out)))
	}
	clear(t.out)
	t.out = t.out[:0]
	t.cur, t.bytes = nil, 0
}
