package server

import (
	"context"

	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"golang.zx2c4.com/wireguard/tun"
	"net"
	"net/netip"
	"os"
	"sync"
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

// udpLoop owns the UDP socket's receive side.
func (s *Server) udpLoop(conn *net.UDPConn) {
	buf := make([]byte, transport.MaxPacket)
	scratch := make([]byte, 0, transport.MaxPacket)
	stateless, err := s.newWrapper()
	if err != nil {
		s.log.Error("control wrapper", "err", err)
		return
	}
	dp := newDataScratch()
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("udp read", "err", err)
			continue
		}
		if n < 1 {
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		pkt := buf[:n]
		op := wire.Opcode(pkt[0] >> 3)
		s.mu.RLock()
		ss := s.byPeer[from]
		s.mu.RUnlock()
		switch {
		case op.IsData():
			if ss != nil {
				ss.fromNetwork(pkt, dp)
			}
		case op.IsControl():
			if ss != nil && op != wire.OpHardResetClientV2 && len(pkt) >= 9 && ss.matchesRemote(pkt[1:9]) {
				ss.ch.HandleIncoming(pkt)
				continue
			}
			scratch = append(scratch[:0], pkt...)
			s.statelessControl(from, stateless, scratch, func(b []byte) { _, _ = conn.WriteToUDPAddrPort(b, from) },
				func(cookie, client wire.SessionID) { s.startUDPSession(conn, from, cookie, client, pkt) })
		}
	}
}

// matchesRemote reports whether sid is the session's client session id.
func (ss *session) matchesRemote(sid []byte) bool {
	r, ok := ss.ch.RemoteSessionID()
	return ok && string(r[:]) == string(sid)
}

// statelessControl answers a hard reset with a cookie (through reply), or
// calls start when the packet proves the client saw our cookie. raw is a
// copy of the packet, unwrapped in place.
func (s *Server) statelessControl(from netip.AddrPort, w tlswrap.Wrapper, raw []byte, reply func([]byte), start func(cookie, client wire.SessionID)) {
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
	case wire.OpHardResetClientV2:
		if p.KeyID != 0 {
			return
		}
		cookie := s.cookieFor(from, p.SessionID, ep)
		resp := wire.Control{Opcode: wire.OpHardResetServerV2, SessionID: cookie, Acks: []uint32{0}, RemoteSessionID: p.SessionID}
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
	case wire.OpControlV1, wire.OpAckV1:
		if len(p.Acks) == 0 || p.KeyID != 0 || (p.Opcode == wire.OpControlV1 && p.PacketID > 1) {
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
			go old.cancel()
		}
		start(cookie, p.SessionID)
	}
}

func (s *Server) startUDPSession(conn *net.UDPConn, from netip.AddrPort, cookie, clientSID wire.SessionID, first []byte) {
	ss := s.newSession(from, false, func(b []byte) error {
		_, err := conn.WriteToUDPAddrPort(b, from)
		return err
	})
	cfg, err := ss.controlConfig()
	if err != nil {
		return
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
	st := transport.NewStream(c, peer)
	defer st.Close()
	stop := context.AfterFunc(s.ctx, func() { st.Close() })
	defer stop()
	buf := make([]byte, transport.MaxPacket)
	c.SetReadDeadline(time.Now().Add(control.DefaultHandWindow))
	n, err := st.ReadPacket(buf)
	if err != nil || n < 1 {
		return
	}
	op, keyID, err := wire.PeekHeader(buf[:n])
	if err != nil || op != wire.OpHardResetClientV2 || keyID != 0 {
		s.log.Debug("tcp client did not start with a hard reset", "peer", "tcp "+peer.String())
		return
	}
	c.SetReadDeadline(time.Time{})
	ss := s.newSession(peer, true, st.WritePacket)
	cfg, err := ss.controlConfig()
	if err != nil {
		return
	}
	ch, err := control.NewServer(ss.ctx, cfg, buf[:n])
	if err != nil {
		ss.log.Debug("refused tcp client", "err", err)
		ss.cancel()
		return
	}
	ss.ch = ch
	ss.run()
	defer ss.cancel()
	stopSess := context.AfterFunc(ss.ctx, func() { st.Close() })
	defer stopSess()
	dp := newDataScratch()
	for {
		n, err := st.ReadPacket(buf)
		if err != nil {
			ss.setReason("tcp connection closed by the client")
			return
		}
		if n == 0 {
			continue
		}
		pkt := buf[:n]
		op := wire.Opcode(pkt[0] >> 3)
		switch {
		case op.IsData():
			ss.fromNetwork(pkt, dp)
		case op.IsControl():
			ss.ch.HandleIncoming(pkt)
		}
	}
}

// dataScratch holds the buffers of one receive goroutine.
type dataScratch struct {
	buf  []byte
	bufs [][]byte
	seal []byte
}

func newDataScratch() *dataScratch {
	return &dataScratch{buf: make([]byte, DeviceOffset+transport.MaxPacket), bufs: make([][]byte, 1), seal: make([]byte, 0, transport.MaxPacket+256)}
}

// fromNetwork handles one data packet from the client.
func (ss *session) fromNetwork(pkt []byte, d *dataScratch) {
	s := ss.srv
	out, _, err := ss.keys.Open(d.buf[:DeviceOffset], pkt)
	if err != nil {
		s.m.badPackets.Add(1)
		return
	}
	ss.lastRecv.Store(s.now().UnixNano())
	payload := out[DeviceOffset:]
	if datachannel.IsPing(payload) {
		return
	}
	if datachannel.IsOCCExit(payload) {
		ss.setReason("client sent exit notification")
		go ss.cancel()
		return
	}
	if !ss.established.Load() || len(payload) < 20 || payload[0]>>4 != 4 {
		ss.dropped.Add(1)
		return
	}
	src := netip.AddrFrom4([4]byte(payload[12:16]))
	dst := netip.AddrFrom4([4]byte(payload[16:20]))
	ss.inBytes.Add(uint64(len(payload)))
	ss.inPkts.Add(1)
	if src != ss.ip {
		ss.dropped.Add(1)
		s.m.droppedPackets.Add(1)
		return
	}
	if dst != s.pool.Server() && !s.authz.Allowed(dst, ss.groups) {
		ss.dropped.Add(1)
		s.m.droppedPackets.Add(1)
		return
	}
	if s.pool.Prefix().Contains(dst) && dst != s.pool.Server() {
		if peer := s.sessionByIP(dst); peer != nil {
			peer.sendData(payload, false)
		}
		return
	}
	d.bufs[0] = out
	if _, err := s.dev.Write(d.bufs, DeviceOffset); err != nil && !errors.Is(err, os.ErrClosed) {
		s.log.Debug("device write failed", "err", err)
	}
}

var sealPool = sync.Pool{New: func() any { b := make([]byte, 0, transport.MaxPacket+256); return &b }}

// sendData encrypts one payload (an IP packet, or with control a ping or
// exit message) to the client.
func (ss *session) sendData(payload []byte, control bool) {
	bp := sealPool.Get().(*[]byte)
	defer sealPool.Put(bp)
	out, err := ss.keys.Seal((*bp)[:0], payload)
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

// tunLoop reads packets from the device and sends each to the client
// holding its destination address.
func (s *Server) tunLoop() {
	batch := s.dev.BatchSize()
	if batch < 1 {
		batch = 1
	}
	bufs := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range bufs {
		bufs[i] = make([]byte, DeviceOffset+transport.MaxPacket)
	}
	for {
		n, err := s.dev.Read(bufs, sizes, DeviceOffset)
		for i := 0; i < n; i++ {
			pkt := bufs[i][DeviceOffset : DeviceOffset+sizes[i]]
			if len(pkt) < 20 || pkt[0]>>4 != 4 {
				continue
			}
			dst := netip.AddrFrom4([4]byte(pkt[16:20]))
			if ss := s.sessionByIP(dst); ss != nil {
				ss.sendData(pkt, false)
			}
		}
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
