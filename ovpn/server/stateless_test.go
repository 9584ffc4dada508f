package server

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

func testServer(now time.Time) *Server {
	s := &Server{log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }, wrapMode: "tls-crypt"}
	for i := range s.wrapKey {
		s.wrapKey[i] = byte(i * 3)
	}
	copy(s.cookie[:], "0123456789abcdef0123456789abcdef")
	return s
}

var peer = netip.MustParseAddrPort("198.18.0.1:40000")

func clientPacket(t testing.TB, s *Server, p wire.Control) []byte {
	t.Helper()
	w, err := tlswrap.NewTLSCrypt(s.wrapKey, wire.RoleClient, s.now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.AppendControl(nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Wrap(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStatelessCookie: a reset is answered with the cookie and no state;
// only a packet acknowledging that cookie starts a session.
func TestStatelessCookie(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := testServer(now)
	w, _ := s.newWrapper()
	csid := wire.SessionID{1, 2, 3, 4, 5, 6, 7, 8}
	var replies [][]byte
	started := 0
	var gotCookie wire.SessionID
	reply := func(b []byte) { replies = append(replies, append([]byte(nil), b...)) }
	start := func(c, cl wire.SessionID, _ tlswrap.Wrapper) {
		started++
		gotCookie = c
		if cl != csid {
			t.Errorf("session for client %v, want %v", cl, csid)
		}
	}
	reset := clientPacket(t, s, wire.Control{Opcode: wire.OpHardResetClientV2, SessionID: csid})
	s.statelessControl(peer, w, reset, reply, start)
	if len(replies) != 1 || started != 0 {
		t.Fatalf("replies %d, sessions %d after a reset", len(replies), started)
	}
	cw, _ := tlswrap.NewTLSCrypt(s.wrapKey, wire.RoleClient, s.now)
	plain, err := cw.Unwrap(replies[0])
	if err != nil {
		t.Fatal(err)
	}
	rp, err := wire.DecodeControl(plain)
	if err != nil || rp.Opcode != wire.OpHardResetServerV2 || rp.RemoteSessionID != csid || len(rp.Acks) != 1 || rp.Acks[0] != 0 {
		t.Fatalf("reply %+v %v", rp, err)
	}
	cookie := rp.SessionID
	if cookie != s.cookieFor(peer, csid, s.epoch()) {
		t.Fatal("reply session id is not the cookie")
	}
	// A wrong cookie, another address, or a late packet id start nothing.
	bad := []wire.Control{
		{Opcode: wire.OpAckV1, SessionID: csid, Acks: []uint32{0}, RemoteSessionID: wire.SessionID{9}},
		{Opcode: wire.OpControlV1, SessionID: csid, Acks: []uint32{0}, RemoteSessionID: cookie, PacketID: 7, Payload: []byte("x")},
		{Opcode: wire.OpControlV1, SessionID: csid, PacketID: 1, Payload: []byte("x")},
	}
	for _, b := range bad {
		s.statelessControl(peer, w, clientPacket(t, s, b), reply, start)
	}
	s.statelessControl(netip.MustParseAddrPort("198.18.0.9:40000"), w,
		clientPacket(t, s, wire.Control{Opcode: wire.OpAckV1, SessionID: csid, Acks: []uint32{0}, RemoteSessionID: cookie}), reply, start)
	if started != 0 {
		t.Fatalf("%d sessions started without a valid cookie proof", started)
	}
	// The proof, also one epoch later.
	s.now = func() time.Time { return now.Add(cookieEpoch) }
	s.statelessControl(peer, w, clientPacket(t, s, wire.Control{Opcode: wire.OpAckV1, SessionID: csid, Acks: []uint32{0}, RemoteSessionID: cookie}), reply, start)
	if started != 1 || gotCookie != cookie {
		t.Fatalf("valid proof: %d sessions, cookie %v", started, gotCookie)
	}
	// Two epochs later the cookie has expired.
	s.now = func() time.Time { return now.Add(3 * cookieEpoch) }
	s.statelessControl(peer, w, clientPacket(t, s, wire.Control{Opcode: wire.OpAckV1, SessionID: csid, Acks: []uint32{0}, RemoteSessionID: cookie}), reply, start)
	if started != 1 {
		t.Fatal("an expired cookie started a session")
	}
}

func TestPool(t *testing.T) {
	p, err := NewPool(netip.MustParsePrefix("10.100.0.0/29"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Server().String() != "10.100.0.1" {
		t.Fatalf("server address %s", p.Server())
	}
	var got []string
	for {
		a, err := p.Allocate()
		if err != nil {
			if err != ErrPoolExhausted {
				t.Fatal(err)
			}
			break
		}
		got = append(got, a.String())
	}
	want := "10.100.0.2 10.100.0.3 10.100.0.4 10.100.0.5 10.100.0.6"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("allocated %s, want %s (never network, server or broadcast)", s, want)
	}
	p.Release(netip.MustParseAddr("10.100.0.4"))
	if a, err := p.Allocate(); err != nil || a.String() != "10.100.0.4" {
		t.Errorf("after release: %v %v", a, err)
	}
	if p.InUse() != 5 {
		t.Errorf("in use %d", p.InUse())
	}
	if _, err := NewPool(netip.MustParsePrefix("10.0.0.0/31")); err == nil {
		t.Error("a /31 pool was accepted")
	}
}

// FuzzControlPacket feeds arbitrary datagrams to the stateless UDP path
// and the key-method-2 decoder the server runs on client messages.
func FuzzControlPacket(f *testing.F) {
	s := testServer(time.Unix(1_800_000_000, 0))
	csid := wire.SessionID{1, 2, 3, 4, 5, 6, 7, 8}
	f.Add(clientPacket(f, s, wire.Control{Opcode: wire.OpHardResetClientV2, SessionID: csid}))
	f.Add(clientPacket(f, s, wire.Control{Opcode: wire.OpAckV1, SessionID: csid, Acks: []uint32{0}, RemoteSessionID: s.cookieFor(peer, csid, s.epoch())}))
	m := km2.Message{Sender: wire.RoleClient, Options: "V4,dev-type tun", Username: "alice", Password: "pw", PeerInfo: "IV_VER=2.6.14\nIV_PROTO=990\n"}
	std, _ := m.MarshalBinary()
	f.Add(std)
	m.Framing = km2.AWS
	aws, _ := m.MarshalBinary()
	f.Add(aws)
	f.Add([]byte{0x38})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, _ := s.newWrapper()
		s.statelessControl(peer, w, append([]byte(nil), data...), func([]byte) {}, func(c, cl wire.SessionID, _ tlswrap.Wrapper) {
			if c != s.cookieFor(peer, cl, s.epoch()) && c != s.cookieFor(peer, cl, s.epoch()-1) {
				t.Fatal("session started with a wrong cookie")
			}
		})
		if m, err := km2.Unmarshal(data, wire.RoleClient); err == nil {
			_ = km2.ParsePeerInfo(m.PeerInfo).Proto()
		}
	})
}
