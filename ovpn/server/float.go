package server

import (
	"net/netip"

	"github.com/cvpn/cvpn/ovpn/datachannel"
)

// Float: a UDP client whose address changes (a new Wi-Fi, a NAT rebinding)
// keeps its session. A P_DATA_V2 packet from an address no session owns is
// looked up by its peer-id; only when it opens with that session's keys
// (authenticated, not a replay) does the session move to the new address.
// Anything else from an unknown address is dropped as before, so a forged
// or replayed packet never moves a session.

// remote is the client's current address (its first one until it floats).
func (ss *session) remote() netip.AddrPort {
	if p := ss.floated.Load(); p != nil {
		return *p
	}
	return ss.peer
}

// floatCandidate returns the established UDP session a data packet from an
// unknown address names by its peer-id, or nil.
func (s *Server) floatCandidate(pkt []byte) *session {
	id, ok := datachannel.PeerIDOf(pkt)
	if !ok {
		return nil
	}
	s.mu.RLock()
	ss := s.byPeerID[id]
	s.mu.RUnlock()
	if ss == nil || ss.tcp || !ss.established.Load() {
		return nil
	}
	return ss
}

// float moves ss to the address to, from which an authenticated packet of
// it arrived. A stale session still owning to (its client has left that
// address, since our client now sends from it) is ended.
func (s *Server) float(ss *session, to netip.AddrPort) {
	s.mu.Lock()
	from := ss.remote()
	if from == to {
		s.mu.Unlock()
		return
	}
	stale := s.byPeer[to]
	if s.byPeer[from] == ss {
		delete(s.byPeer, from)
	}
	s.byPeer[to] = ss
	ss.floated.Store(&to)
	s.mu.Unlock()
	s.m.floats.Add(1)
	ss.log.Info("client floated to a new address", "from", "udp "+from.String(), "to", "udp "+to.String())
	if stale != nil && stale != ss {
		stale.setReason("address taken over by a floated session")
		stale.cancel()
	}
}

// publishPeerID makes an established UDP session findable by its peer-id.
func (s *Server) publishPeerID(ss *session) {
	if ss.tcp || !ss.dataV2 {
		return
	}
	s.mu.Lock()
	s.byPeerID[ss.peerID] = ss
	s.mu.Unlock()
}

// unpublishPeerID undoes publishPeerID; the caller holds s.mu.
func (s *Server) unpublishPeerIDLocked(ss *session) {
	if ss.dataV2 && s.byPeerID[ss.peerID] == ss {
		delete(s.byPeerID, ss.peerID)
	}
}
