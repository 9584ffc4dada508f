package control

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// TestStatelessServer plays an OpenVPN 2.6 style server: resets are
// answered by a throw-away wrapper without state, and the channel is
// created only when the client's next packet proves the cookie.
func TestStatelessServer(t *testing.T) {
	pki := newTestPKI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var key [256]byte
	for i := range key {
		key[i] = byte(i * 7)
	}
	wc, _ := tlswrap.NewTLSCrypt(key, wire.RoleClient, nil)
	ws, _ := tlswrap.NewTLSCrypt(key, wire.RoleServer, nil)
	cookie := wire.SessionID{0xc0, 0x0c, 0x1e, 1, 2, 3, 4, 5}

	link := newLossyLink(3, 0.1, 0.05, 2*time.Millisecond)
	var client atomic.Pointer[Channel]
	toClient := func(p []byte) {
		if c := client.Load(); c != nil {
			c.HandleIncoming(p)
		}
	}
	sendToClient := link.send(toClient)
	var mu sync.Mutex
	var srv *Channel
	srvCh := make(chan *Channel, 1)
	toServer := func(pkt []byte) {
		mu.Lock()
		defer mu.Unlock()
		if srv != nil {
			s := srv
			mu.Unlock()
			s.HandleIncoming(pkt)
			mu.Lock()
			return
		}
		// Stateless: a fresh wrapper per packet, no replay state.
		tas, _ := tlswrap.NewTLSCrypt(key, wire.RoleServer, nil)
		plain, err := tas.UnwrapNoReplay(append([]byte(nil), pkt...))
		if err != nil {
			t.Errorf("stateless unwrap: %v", err)
			return
		}
		p, err := wire.DecodeControl(plain)
		if err != nil {
			t.Errorf("stateless decode: %v", err)
			return
		}
		switch p.Opcode {
		case wire.OpHardResetClientV2:
			reply := wire.Control{Opcode: wire.OpHardResetServerV2, SessionID: cookie, Acks: []uint32{0}, RemoteSessionID: p.SessionID}
			b, _ := wire.AppendControl(nil, &reply)
			out, _ := tas.Wrap(nil, b)
			sendToClient(out)
		case wire.OpControlV1, wire.OpAckV1:
			if len(p.Acks) == 0 || p.RemoteSessionID != cookie || p.PacketID > 1 {
				t.Errorf("client's first packet does not prove the cookie: %+v", p)
				return
			}
			s, err := NewServerStateless(ctx, Config{Wrapper: ws, Send: link.send(toClient), TLSTimeout: 30 * time.Millisecond, LocalSessionID: cookie}, p.SessionID)
			if err != nil {
				t.Errorf("NewServerStateless: %v", err)
				return
			}
			srv = s
			srvCh <- s
			mu.Unlock()
			s.HandleIncoming(pkt)
			mu.Lock()
		}
	}
	c, err := NewClient(ctx, Config{Wrapper: wc, Send: link.send(toServer), TLSTimeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	client.Store(c)
	t.Cleanup(func() {
		link.close()
		c.Close()
		mu.Lock()
		if srv != nil {
			srv.Close()
		}
		mu.Unlock()
	})
	var s *Channel
	select {
	case s = <-srvCh:
	case <-time.After(20 * time.Second):
		t.Fatal("client never proved the cookie")
	}
	ct, st := handshake(t, c.Stream(0), s.Stream(0), pki, tls.VersionTLS13)
	exchange(t, ct, st, 64<<10)
	if r, _ := c.RemoteSessionID(); r != cookie {
		t.Errorf("client's remote session id %v, want the cookie %v", r, cookie)
	}
}

// TestSessionMismatch checks that packets from another session are
// dropped and logged with the peer's name.
func TestSessionMismatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logBuf}, nil))
	sent := make(chan []byte, 16)
	c, err := NewClient(ctx, Config{Send: func(p []byte) error { sent <- append([]byte(nil), p...); return nil }, Logger: logger, Peer: "udp 198.51.100.7:1194"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reset := <-sent
	rp, _ := wire.DecodeControl(reset)
	server := wire.SessionID{5, 5, 5, 5, 5, 5, 5, 5}
	reply := wire.Control{Opcode: wire.OpHardResetServerV2, SessionID: server, Acks: []uint32{0}, RemoteSessionID: rp.SessionID}
	b, _ := wire.AppendControl(nil, &reply)
	c.HandleIncoming(b)
	select {
	case <-c.Stream(0).Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("stream not ready after the server's reset")
	}
	// A CONTROL_V1 from another session id must not reach the stream.
	other := wire.Control{Opcode: wire.OpControlV1, SessionID: wire.SessionID{6}, PacketID: 1, Payload: []byte("evil")}
	b, _ = wire.AppendControl(nil, &other)
	c.HandleIncoming(b)
	// One that acks a session that is not ours, too.
	wrongAck := wire.Control{Opcode: wire.OpControlV1, SessionID: server, Acks: []uint32{0}, RemoteSessionID: wire.SessionID{7}, PacketID: 1, Payload: []byte("evil")}
	b, _ = wire.AppendControl(nil, &wrongAck)
	c.HandleIncoming(b)
	// A good one is delivered.
	good := wire.Control{Opcode: wire.OpControlV1, SessionID: server, PacketID: 1, Payload: []byte("good")}
	b, _ = wire.AppendControl(nil, &good)
	c.HandleIncoming(b)
	s := c.Stream(0)
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, err := s.Read(buf)
	if err != nil || string(buf[:n]) != "good" {
		t.Fatalf("read %q, %v; want \"good\"", buf[:n], err)
	}
	logMu.Lock()
	out := logBuf.String()
	logMu.Unlock()
	for _, want := range []string{"session id mismatch", "acknowledges session 0700000000000000", "peer=\"udp 198.51.100.7:1194\""} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
