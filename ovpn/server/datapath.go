package server

import (
	"context"
	"slices"

	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"golang.zx2c4.com/wireguard/tun"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// cookieEpoch is how long a stateless reset cookie stays valid (it is
// accepted for the current and the previous epoch).
const cookieEpoch = 30 * time.Second

// cookieFor computes the HMAC cookie session id for a client.
func (s *Server) cookieFor(peer netip.AddrPort, client wire.SessionID, epoch int64) wire.SessionID {
	m := hmac.New(sha256.New, s.cookie[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(epoch))
	m.Write(b[:])
	ab, _ := peer.MarshalBinary()
	m.Write(ab)
	m.Write(client[:])
	var id wire.SessionID
	copy(id[:], m.Sum(nil))
	return id
}

func (s *Server) epoch() int64 { return s.now().UnixNano() / int64(cookieEpoch) }

// udpLoop owns the UDP socket's receive side: it reads datagrams in
// batches, opens the data packets of each batch and writes them to the
// device with one call.
func (s *Server) udpLoop(conn *net.UDPConn) {
	pc, err := transport.NewPacketConn(conn)
	if err != nil {
		s.log.Error("udp socket", "err", err)
		return
	}
	scratch := make([]byte, 0, transport.MaxPacket)
	stateless, err := s.newWrapper()
	if err != nil {
		s.log.Error("control wrapper", "err", err)
		return
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	bufs := make([][]byte, rxBatchUDP)
	sizes := make([]int, rxBatchUDP)
	froms := make([]netip.AddrPort, rxBatchUDP)
	for i := range bufs {
		bufs[i] = make([]byte, transport.MaxPacket)
	}
	rx := newRxBatch(s, rxBatchUDP)
	for {
		n, err := pc.ReadBatchFrom(bufs, sizes, froms)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read", "err", err)
			continue
		}
		var last netip.AddrPort
		var ss *session
		for i := 0; i < n; i++ {
			if sizes[i] < 1 {
				continue
			}
			from := froms[i]
			pkt := bufs[i][:sizes[i]]
			if i == 0 || from != last {
				last = from
				s.mu.RLock()
				ss = s.byPeer[from]
				s.mu.RUnlock()
			}
			op := wire.Opcode(pkt[0] >> 3)
			switch {
			case op.IsData():
				if ss != nil {
					rx.add(ss, pkt)
				} else if fs := s.floatCandidate(pkt); fs != nil && rx.add(fs, pkt) {
					s.float(fs, from) // authenticated: the client moved
					ss = fs
				}
			case op.IsControl():
				if ss != nil && op != wire.OpHardResetClientV2 && op != wire.OpHardResetClientV3 && len(pkt) >= 9 && ss.matchesRemote(pkt[1:9]) {
					ss.ch.HandleIncoming(pkt)
					continue
				}
				scratch = append(scratch[:0], pkt...)
				s.statelessControl(from, stateless, scratch, func(b []byte) { _ = pc.WriteTo(b, from) },
					func(cookie, client wire.SessionID, w tlswrap.Wrapper) {
						s.startUDPSession(pc, from, cookie, client, w, pkt)
					})
				// A new session may now own this address.
				s.mu.RLock()
				ss = s.byPeer[from]
				s.mu.RUnlock()
			}
		}
		rx.flush()
	}
}

// matchesRemote reports whether sid is the session's client session id.
func (ss *session) matchesRemote(sid []byte) bool {
	r, ok := ss.ch.RemoteSessionID()
	return ok && string(r[:]) == string(sid)
}

// statelessControl answers a hard reset with a cookie (through reply), or
// calls start when the packet proves the client saw our cookie. raw is a
// copy of the packet, unwrapped in place. A tls-crypt-v2 client's packets
// (HARD_RESET_CLIENT_V3, P_CONTROL_WKC_V1) are unwrapped with the key in
// their WKc, and start gets the wrapper for that key (nil otherwise).
func (s *Server) statelessControl(from netip.AddrPort, w tlswrap.Wrapper, raw []byte, reply func([]byte), start func(cookie, client wire.SessionID, w tlswrap.Wrapper)) {
	if len(raw) == 0 {
		return
	}
	var v2 tlswrap.Wrapper
	if op := wire.Opcode(raw[0] >> 3); op == wire.OpHardResetClientV3 || op == wire.OpControlWKCV1 {
		if op == wire.OpHardResetClientV3 && !tlswrap.EarlyNegotiation(raw) {
			s.log.Info("dropped tls-crypt-v2 reset of a client that cannot resend its key (OpenVPN before 2.6); cvpn server needs it over UDP", "peer", "udp "+from.String())
			return
		}
		var ok bool
		if w, ok = s.acceptV2(from.String(), raw); !ok {
			return
		}
		v2 = w
	} else if s.v2Only() {
		s.log.Debug("dropped control packet without a tls-crypt-v2 client key", "peer", "udp "+from.String())
		return
	}
	plain, err := w.UnwrapNoReplay(raw)
	if err != nil {
		s.log.Debug("dropped unauthenticated control packet", "peer", "udp "+from.String(), "err", err)
		return
	}
	p, err := wire.DecodeControl(plain)
	if err != nil {
		s.log.Debug("dropped malformed control packet", "peer", "udp "+from.String(), "err", err)
		return
	}
	ep := s.epoch()
	switch p.Opcode {
	case wire.OpHardResetClientV2, wire.OpHardResetClientV3:
		if p.KeyID != 0 {
			return
		}
		cookie := s.cookieFor(from, p.SessionID, ep)
		resp := wire.Control{Opcode: wire.OpHardResetServerV2, SessionID: cookie, Acks: []uint32{0}, RemoteSessionID: p.SessionID}
		if v2 != nil {
			// Ask for WKc again with the third packet: we keep no state.
			resp.Payload = tlswrap.AppendServerResetFlags(nil, tlswrap.FlagResendWKC)
		}
		b, err := wire.AppendControl(nil, &resp)
		if err != nil {
			return
		}
		w.SetNextSendID(1)
		out, err := w.Wrap(nil, b)
		if err != nil {
			return
		}
		reply(out)
	case wire.OpControlV1, wire.OpAckV1, wire.OpControlWKCV1:
		if (v2 == nil) != (p.Opcode != wire.OpControlWKCV1) {
			return
		}
		// Only an acknowledgement of our reset (packet id 0) proves the
		// client saw the cookie; a late ACK of something else (after the
		// client left) must not start a new session.
		if !slices.Contains(p.Acks, 0) || p.KeyID != 0 || (p.Opcode != wire.OpAckV1 && p.PacketID > 1) {
			return
		}
		var cookie wire.SessionID
		ok := false
		for _, e := range []int64{ep, ep - 1} {
			if c := s.cookieFor(from, p.SessionID, e); c == p.RemoteSessionID {
				cookie, ok = c, true
				break
			}
		}
		if !ok {
			s.log.Debug("dropped control packet without a valid cookie", "peer", "udp "+from.String())
			return
		}
		s.mu.RLock()
		old := s.byPeer[from]
		s.mu.RUnlock()
		if old != nil {
			if old.matchesRemote(p.SessionID[:]) {
				return
			}
			old.setReason("client reconnected from the same address")
			old.cancel() // a context cancel: it does not block
		}
		start(cookie, p.SessionID, v2)
	}
}

func (s *Server) startUDPSession(pc *transport.PacketConn, from netip.AddrPort, cookie, clientSID wire.SessionID, w tlswrap.Wrapper, first []byte) {
	// Sends go to the client's current address: it may float (float.go).
	var ss *session
	ss = s.newSession(from, false, func(b []byte) error { return pc.WriteTo(b, ss.remote()) })
	ss.sendBatchFn = func(pkts [][]byte) error { return pc.WriteBatchTo(pkts, ss.remote()) }
	cfg, err := ss.controlConfig()
	if err != nil {
		return
	}
	if w != nil {
		cfg.Wrapper = w
	}
	cfg.LocalSessionID = cookie
	ch, err := control.NewServerStateless(ss.ctx, cfg, clientSID)
	if err != nil {
		ss.log.Warn("control channel", "err", err)
		ss.cancel()
		return
	}
	ss.ch = ch
	ss.log.Debug("client proved the reset cookie; session created")
	ss.run()
	ch.HandleIncoming(first)
}

// maxTCPReset is the largest first packet a TCP client may send: a hard
// reset, with tls-auth, tls-crypt or tls-crypt-v2 (and its WKc of at most
// 1024 bytes), is smaller.
const maxTCPReset = 1024 + tlswrap.WKcMaxLen

// tcpLoop accepts TCP clients.
func (s *Server) tcpLoop(l *net.TCPListener) {
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("tcp accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveTCP(c)
		}()
	}
}

func (s *Server) serveTCP(c *net.TCPConn) {
	peer := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	defer c.Close()
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	defer stop()
	hw := s.opts.HandWindow
	if hw <= 0 {
		hw = control.DefaultHandWindow
	}
	// The first packet is read unbuffered into a small buffer: a
	// connection costs its 128 KiB of stream buffers only once it has
	// sent a hard reset.
	c.SetReadDeadline(time.Now().Add(hw))
	var first [maxTCPReset + 2]byte
	if _, err := io.ReadFull(c, first[:2]); err != nil {
		return
	}
	n := int(binary.BigEndian.Uint16(first[:2]))
	if n == 0 || n > maxTCPReset {
		s.log.Debug("tcp client did not start with a hard reset", "peer", "tcp "+peer.String(), "length", n)
		return
	}
	if _, err := io.ReadFull(c, first[2:2+n]); err != nil {
		return
	}
	op, keyID, err := wire.PeekHeader(first[2 : 2+n])
	if err != nil || (op != wire.OpHardResetClientV2 && op != wire.OpHardResetClientV3) || keyID != 0 {
		s.log.Debug("tcp client did not start with a hard reset", "peer", "tcp "+peer.String())
		return
	}
	c.SetReadDeadline(time.Time{})
	st := transport.NewStream(c, peer)
	buf := make([]byte, transport.MaxPacket)
	n = copy(buf, first[2:2+n])
	ss := s.newSession(peer, true, st.WritePacket)
	txq := newTCPQueue(st, func(n int) { ss.dropped.Add(uint64(n)); s.m.droppedPackets.Add(uint64(n)) })
	ss.sendBatchFn = txq.WriteBatch
	cfg, err := ss.controlConfig()
	if err != nil {
		return
	}
	if op == wire.OpHardResetClientV3 {
		w, ok := s.acceptV2(ss.peerName(), buf[:n])
		if !ok {
			ss.cancel()
			return
		}
		cfg.Wrapper = w
	} else if s.v2Only() {
		ss.log.Debug("refused tcp client without a tls-crypt-v2 client key")
		ss.cancel()
		return
	}
	ch, err := control.NewServer(ss.ctx, cfg, buf[:n])
	if err != nil {
		ss.log.Debug("refused tcp client", "err", err)
		ss.cancel()
		return
	}
	ss.ch = ch
	ss.log.Debug("tcp client sent a hard reset; session created")
	ss.run()
	defer ss.cancel()
	// From here the session's context owns the connection (stopSess
	// below): on shutdown the server first tells the client RESTART over
	// it, then ends the session, so the server's own context must no
	// longer close it.
	stop()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		txq.run(ss.ctx)
	}()
	stopSess := context.AfterFunc(ss.ctx, func() { st.Close() })
	defer stopSess()
	// The first buffer takes the largest packet; the others usual ones
	// (ReadBatch leaves a larger packet for the next call).
	bufs := make([][]byte, rxBatchTCP)
	sizes := make([]int, rxBatchTCP)
	bufs[0] = buf
	for i := 1; i < len(bufs); i++ {
		bufs[i] = make([]byte, 2048)
	}
	var rx *rxBatch
	for {
		n, err := st.ReadBatch(bufs, sizes)
		if err != nil {
			ss.setReason("tcp connection closed by the client")
			return
		}
		for i := 0; i < n; i++ {
			if sizes[i] == 0 {
				continue
			}
			pkt := bufs[i][:sizes[i]]
			op := wire.Opcode(pkt[0] >> 3)
			switch {
			case op.IsData():
				if rx == nil {
					rx = newRxBatch(s, rxBatchTCP) // only sessions that move data need it
				}
				rx.add(ss, pkt)
			case op.IsControl():
				ss.ch.HandleIncoming(pkt)
			}
		}
		if rx != nil {
			rx.flush()
		}
	}
}

// sendData encrypts one control payload (a ping or an exit message) to the
// client. Data packets go through rxBatch and txBatch.
func (ss *session) sendData(payload []byte, control bool) {
	out, err := ss.keys.Seal(make([]byte, 0, len(payload)+sealSlack), payload)
	if err != nil {
		if errors.Is(err, datachannel.ErrPacketIDExhausted) {
			ss.log.Warn("packet id space exhausted; waiting for renegotiation")
		}
		return
	}
	if err := ss.send(out); err != nil {
		return
	}
	if !control {
		ss.outBytes.Add(uint64(len(payload)))
		ss.outPkts.Add(1)
	}
}

func (ss *session) sendPing() {
	var b [32]byte
	ss.sendData(datachannel.AppendPing(b[:0]), true)
}

// tunLoop reads packets from the device a batch at a time and sends each
// client its packets with one batch write per run.
func (s *Server) tunLoop() {
	batch := max(s.dev.BatchSize(), 1)
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, slotSize)
	}
	tx := newTxBatch(s, batch)
	for {
		n, err := s.dev.Read(bufs, sizes, DeviceOffset)
		tx.run(bufs, sizes, n)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return
			}
			if isTooManySegments(err) {
				continue
			}
			s.log.Warn("device read failed; data path stopped", "err", err)
			return
		}
	}
}

func isTooManySegments(err error) bool { return errors.Is(err, tun.ErrTooManySegments) }
