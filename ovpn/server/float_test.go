package server

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/transport"
)

// TestFloatOnlyOnAuthenticatedPacket runs the UDP loop on a loopback socket:
// a client whose session began at another address sends from a new one.
// A forged packet and a replayed one naming its peer-id do not move the
// session; its first authentic packet does, and from then on the server's
// packets, the connection list, the connection log and the metrics follow
// the new address.
func TestFloatOnlyOnAuthenticatedPacket(t *testing.T) {
	s, _, ss, cl := testDataServer(t)
	var logBuf bytes.Buffer
	s.cfg = &config.Config{File: config.File{EndpointID: "cvpn-endpoint-float"}}
	s.clog = connlog.NewWriter(&logBuf)
	srvConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := transport.NewPacketConn(srvConn)
	if err != nil {
		t.Fatal(err)
	}
	old := ss[0].peer
	ss[0].sendFn = func(b []byte) error { return pc.WriteTo(b, ss[0].remote()) }
	dst := netip.MustParseAddr("198.51.100.7")
	// Replayed: this packet arrived at the old address first.
	replayed, _ := cl[0].Seal(nil, ipPacket(ss[0].ip, dst, 80, 2))
	rx := newRxBatch(s, 4)
	if !rx.add(ss[0], bytes.Clone(replayed)) {
		t.Fatal("the session did not open its own packet")
	}
	rx.flush()
	done := make(chan struct{})
	go func() { defer close(done); s.udpLoop(srvConn) }()
	defer func() { s.cancel(); srvConn.Close(); <-done }()

	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	newAddr := client.LocalAddr().(*net.UDPAddr).AddrPort()
	send := func(b []byte) {
		t.Helper()
		if _, err := client.WriteToUDP(b, srvConn.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	authentic, err := cl[0].Seal(nil, ipPacket(ss[0].ip, dst, 80, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Forged: the session's peer-id, a plausible header, garbage after it.
	forged := bytes.Clone(authentic)
	forged[len(forged)-1] ^= 0xFF
	send(forged)
	send(replayed)
	waitFor(t, func() bool { return s.m.badPackets.Load() >= 2 }, "the forged and replayed packets to be counted")
	if got := ss[0].remote(); got != old {
		t.Fatalf("an unauthenticated packet moved the session to %v", got)
	}
	if s.m.floats.Load() != 0 {
		t.Fatal("float counted for an unauthenticated packet")
	}

	send(authentic)
	waitFor(t, func() bool { return ss[0].remote() == newAddr }, "the session to float to "+newAddr.String())
	s.mu.RLock()
	owner, stale := s.byPeer[newAddr], s.byPeer[old]
	s.mu.RUnlock()
	if owner != ss[0] || stale != nil {
		t.Fatalf("byPeer: new address owned by %v, old address by %v", owner, stale)
	}
	// The authentic packet itself is delivered: the one from the old
	// address and it.
	waitFor(t, func() bool { return ss[0].inPkts.Load() == 2 }, "the floated packet to be counted")
	if ss[1].remote() == newAddr {
		t.Fatal("the other session moved too")
	}
	// The server's packets go to the new address.
	ss[0].sendPing()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := client.Read(buf)
	if err != nil {
		t.Fatalf("no packet from the server at the new address: %v", err)
	}
	if pt, _, err := cl[0].Open(nil, buf[:n]); err != nil || !datachannel.IsPing(pt) {
		t.Fatalf("server sent %d bytes the client cannot open as a ping: %v", n, err)
	}
	var found bool
	for _, c := range s.Connections() {
		if c.ID == ss[0].id {
			found = c.Endpoint == newAddr.String()
		}
	}
	if !found {
		t.Errorf("connection list does not show the new address %v: %+v", newAddr, s.Connections())
	}
	var m strings.Builder
	if err := s.WriteMetrics(&m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.String(), `ClientAddressChanges{endpoint="cvpn-endpoint-float"} 1`) {
		t.Errorf("metrics do not count the float:\n%s", m.String())
	}
	s.writeLog(ss[0], "successful", "", time.Now())
	if want := `"device-ip":"127.0.0.1"`; !strings.Contains(logBuf.String(), want) {
		t.Errorf("connection log %s lacks %s", logBuf.String(), want)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
