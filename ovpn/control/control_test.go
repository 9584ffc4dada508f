package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

type wrapMode string

func makeWrappers(t *testing.T, mode wrapMode) (client, server tlswrap.Wrapper) {
	t.Helper()
	var key [256]byte
	if _, err := rand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "none":
		return tlswrap.None{}, tlswrap.None{}
	case "tls-auth":
		c, err := tlswrap.NewTLSAuth(key, tlswrap.Direction1, "SHA256", nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := tlswrap.NewTLSAuth(key, tlswrap.Direction0, "SHA256", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, s
	case "tls-crypt":
		c, err := tlswrap.NewTLSCrypt(key, wire.RoleClient, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := tlswrap.NewTLSCrypt(key, wire.RoleServer, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, s
	}
	t.Fatalf("unknown mode %q", mode)
	return nil, nil
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// channelPair connects a client and a server channel through link. The
// server channel is created from the first packet that reaches it.
type channelPair struct {
	client *Channel
	server chan *Channel
}

func newChannelPair(t *testing.T, ctx context.Context, link *lossyLink, mode wrapMode, onSoftReset func(uint8, *Stream)) *channelPair {
	t.Helper()
	return newChannelPairTimeout(t, ctx, link, mode, onSoftReset, 30*time.Millisecond)
}

// newChannelPairTimeout is newChannelPair with both sides' tls-timeout
// (0: the default).
func newChannelPairTimeout(t *testing.T, ctx context.Context, link *lossyLink, mode wrapMode, onSoftReset func(uint8, *Stream), tlsTimeout time.Duration) *channelPair {
	t.Helper()
	wc, ws := makeWrappers(t, mode)
	var client atomic.Pointer[Channel]
	var srvMu sync.Mutex
	var srv *Channel
	pair := &channelPair{server: make(chan *Channel, 1)}
	toClient := func(pkt []byte) {
		if c := client.Load(); c != nil {
			c.HandleIncoming(pkt)
		}
	}
	toServer := func(pkt []byte) {
		srvMu.Lock()
		if srv == nil {
			s, err := NewServer(ctx, Config{
				Wrapper: ws, Send: link.send(toClient), Logger: testLogger(t), Peer: "test-client",
				TLSTimeout: tlsTimeout, OnSoftReset: onSoftReset,
			}, pkt)
			if err != nil {
				srvMu.Unlock()
				t.Errorf("NewServer: %v", err)
				return
			}
			srv = s
			pair.server <- s
			srvMu.Unlock()
			return
		}
		s := srv
		srvMu.Unlock()
		s.HandleIncoming(pkt)
	}
	c, err := NewClient(ctx, Config{
		Wrapper: wc, Send: link.send(toServer), Logger: testLogger(t), Peer: "test-server",
		TLSTimeout: tlsTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	client.Store(c)
	pair.client = c
	t.Cleanup(func() {
		link.close()
		c.Close()
		srvMu.Lock()
		if srv != nil {
			srv.Close()
		}
		srvMu.Unlock()
	})
	return pair
}

func (p *channelPair) waitServer(t *testing.T) *Channel {
	t.Helper()
	select {
	case s := <-p.server:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("server channel never created")
		return nil
	}
}

// handshake runs crypto/tls over key streams of both sides.
func handshake(t *testing.T, cs, ss *Stream, pki *testPKI, ver uint16) (*tls.Conn, *tls.Conn) {
	t.Helper()
	ct := tls.Client(cs, pki.clientConfig(ver))
	st := tls.Server(ss, pki.serverConfig(ver))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- st.HandshakeContext(ctx) }()
	if err := ct.HandshakeContext(ctx); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := ct.ConnectionState().Version; got != ver {
		t.Fatalf("negotiated TLS version %x, want %x", got, ver)
	}
	return ct, st
}

// exchange sends n random bytes each way and checks they arrive intact.
func exchange(t *testing.T, a, b io.ReadWriter, n int) {
	t.Helper()
	da := make([]byte, n)
	db := make([]byte, n)
	rand.Read(da)
	rand.Read(db)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	pump := func(w io.Writer, data []byte) {
		defer wg.Done()
		for off := 0; off < len(data); off += 16000 {
			if _, err := w.Write(data[off:min(off+16000, len(data))]); err != nil {
				errs <- fmt.Errorf("write: %w", err)
				return
			}
		}
	}
	sink := func(r io.Reader, want []byte, who string) {
		defer wg.Done()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil {
			errs <- fmt.Errorf("%s read: %w", who, err)
			return
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			errs <- fmt.Errorf("%s received corrupted data", who)
		}
	}
	wg.Add(4)
	go pump(a, da)
	go pump(b, db)
	go sink(b, da, "server")
	go sink(a, db, "client")
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("exchange did not finish in 90 s")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTLSOverLossyLink(t *testing.T) {
	pki := newTestPKI(t)
	for _, mode := range []wrapMode{"none", "tls-auth", "tls-crypt"} {
		for _, ver := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			t.Run(fmt.Sprintf("%s/tls%x", mode, ver), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				link := newLossyLink(int64(ver)+int64(len(mode)), 0.2, 0.05, 3*time.Millisecond)
				pair := newChannelPair(t, ctx, link, mode, nil)
				srv := pair.waitServer(t)
				ct, st := handshake(t, pair.client.Stream(0), srv.Stream(0), pki, ver)
				exchange(t, ct, st, 1<<20)
				cl, _ := pair.client.RemoteSessionID()
				sr, _ := srv.RemoteSessionID()
				if cl != srv.LocalSessionID() || sr != pair.client.LocalSessionID() {
					t.Errorf("session ids disagree: client sees %v/%v, server %v/%v", pair.client.LocalSessionID(), cl, srv.LocalSessionID(), sr)
				}
				link.mu.Lock()
				t.Logf("link: %d packets sent, %d dropped", link.sent, link.dropped)
				link.mu.Unlock()
			})
		}
	}
}

func TestSoftReset(t *testing.T) {
	pki := newTestPKI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := newLossyLink(7, 0.1, 0.05, 2*time.Millisecond)
	peerKeys := make(chan *Stream, 1)
	pair := newChannelPair(t, ctx, link, "tls-crypt", func(id uint8, s *Stream) { peerKeys <- s })
	srv := pair.waitServer(t)
	ct0, st0 := handshake(t, pair.client.Stream(0), srv.Stream(0), pki, tls.VersionTLS13)

	next := wire.NextKeyID(0)
	cs1, err := pair.client.NewKey(next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pair.client.NewKey(next); err == nil {
		t.Error("NewKey accepted a key id in use")
	}
	var ss1 *Stream
	select {
	case ss1 = <-peerKeys:
	case <-time.After(10 * time.Second):
		t.Fatal("server never saw the soft reset")
	}
	if ss1.KeyID() != next {
		t.Fatalf("server got key id %d, want %d", ss1.KeyID(), next)
	}
	ct1, st1 := handshake(t, cs1, ss1, pki, tls.VersionTLS12)
	// Old and new key both carry data.
	exchange(t, ct1, st1, 100<<10)
	exchange(t, ct0, st0, 100<<10)

	pair.client.RetireKey(0)
	if _, err := ct0.Write([]byte("x")); err == nil {
		t.Error("write on a retired key succeeded")
	}
	exchange(t, ct1, st1, 10<<10)
}

func TestClientRetriesHardReset(t *testing.T) {
	// A server that answers nothing: the client must keep resending its
	// reset with the same packet id 0 and a growing interval.
	var mu sync.Mutex
	var times []time.Time
	var pkts [][]byte
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewClient(ctx, Config{
		Send: func(p []byte) error {
			mu.Lock()
			times = append(times, time.Now())
			pkts = append(pkts, append([]byte(nil), p...))
			mu.Unlock()
			return nil
		},
		TLSTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(pkts) < 3 || len(pkts) > 6 {
		t.Fatalf("client sent %d resets in 400 ms with 20 ms doubling timeout, want 3..5", len(pkts))
	}
	for i, p := range pkts {
		ctl, err := wire.DecodeControl(p)
		if err != nil {
			t.Fatal(err)
		}
		if ctl.Opcode != wire.OpHardResetClientV2 || ctl.PacketID != 0 || ctl.KeyID != 0 || len(ctl.Acks) != 0 || len(ctl.Payload) != 0 {
			t.Errorf("packet %d: %+v, want bare HARD_RESET_CLIENT_V2 id 0", i, ctl)
		}
		if ctl.SessionID != c.LocalSessionID() {
			t.Errorf("packet %d: session id %v, want %v", i, ctl.SessionID, c.LocalSessionID())
		}
	}
	if g1, g2 := times[2].Sub(times[1]), times[1].Sub(times[0]); g1 < g2 {
		t.Errorf("retransmit interval did not grow: %v then %v", g2, g1)
	}
}

func TestHandWindow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewClient(ctx, Config{Send: func([]byte) error { return nil }, HandWindow: 150 * time.Millisecond, Peer: "udp 192.0.2.1:1194"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 10)
	start := time.Now()
	_, err = c.Stream(0).Read(buf)
	if !errors.Is(err, ErrHandWindow) {
		t.Fatalf("Read error %v, want ErrHandWindow", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("hand-window error took %v", time.Since(start))
	}
	if want := "udp 192.0.2.1:1194"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not name the peer %q", err, want)
	}
	if !errors.Is(c.Err(), ErrHandWindow) {
		t.Errorf("channel Err %v, want ErrHandWindow", c.Err())
	}
}

// OnServerAnswer fires once, on the server's first hard reset (the client
// creates its TUN device then), and not at all while the server is silent.
func TestOnServerAnswer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	c, err := NewClient(ctx, Config{
		Send:           func([]byte) error { return nil },
		TLSTimeout:     20 * time.Millisecond,
		OnServerAnswer: func() { calls.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // a few unanswered resets
	if n := calls.Load(); n != 0 {
		t.Fatalf("OnServerAnswer called %d times before any answer", n)
	}
	server := wire.SessionID{1, 2, 3, 4, 5, 6, 7, 8}
	for i := 0; i < 3; i++ { // the server resends its reset
		pkt, err := wire.AppendControl(nil, &wire.Control{Opcode: wire.OpHardResetServerV2, SessionID: server,
			Acks: []uint32{0}, RemoteSessionID: c.LocalSessionID()})
		if err != nil {
			t.Fatal(err)
		}
		c.HandleIncoming(pkt)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("OnServerAnswer called %d times after three server resets, want 1", n)
	}
	if got, ok := c.RemoteSessionID(); !ok || got != server {
		t.Errorf("remote session %v %v, want %v", got, ok, server)
	}
}

// TestRenegotiationRecoversFromRepeatedLoss: every TLS packet of a
// renegotiation (key 1) is lost twice, as when it meets a peer's full
// socket buffer under a bulk transfer. With tls-timeout's fixed 2 s,
// doubled per loss, each TLS flight waited 6 s (an OpenVPN server's
// renegotiation stalled); with the retransmit timeout from the round trip
// measured on key 0 it waits 0.6 s.
func TestRenegotiationRecoversFromRepeatedLoss(t *testing.T) {
	pki := newTestPKI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := newLossyLink(11, 0, 0, time.Millisecond)
	type pktKey struct {
		sid wire.SessionID
		id  uint32
	}
	lost := map[pktKey]int{}
	link.drop = func(pkt []byte) bool {
		var p wire.Control
		if p.Decode(pkt) != nil || p.KeyID != 1 || p.Opcode != wire.OpControlV1 {
			return false
		}
		k := pktKey{p.SessionID, p.PacketID}
		lost[k]++
		return lost[k] <= 2
	}
	peerKeys := make(chan *Stream, 1)
	pair := newChannelPairTimeout(t, ctx, link, "none", func(id uint8, s *Stream) { peerKeys <- s }, 0)
	srv := pair.waitServer(t)
	handshake(t, pair.client.Stream(0), srv.Stream(0), pki, tls.VersionTLS13)

	start := time.Now()
	cs1, err := pair.client.NewKey(1)
	if err != nil {
		t.Fatal(err)
	}
	var ss1 *Stream
	select {
	case ss1 = <-peerKeys:
	case <-time.After(10 * time.Second):
		t.Fatal("server never saw the soft reset")
	}
	ct1, st1 := handshake(t, cs1, ss1, pki, tls.VersionTLS13)
	exchange(t, ct1, st1, 4<<10)
	took := time.Since(start)
	link.mu.Lock()
	packets, dropped := len(lost), link.dropped
	link.mu.Unlock()
	t.Logf("renegotiation with %d TLS packets each lost twice (%d drops) took %s", packets, dropped, took.Round(time.Millisecond))
	if packets < 3 || dropped != 2*packets {
		t.Fatalf("%d packets, %d dropped: the test did not lose each packet twice", packets, dropped)
	}
	// Four flights in turn (client hello, server flight, client flight,
	// data) lose a packet twice each: at least 4 x (2 s + 4 s) = 24 s with
	// fixed timeouts; about 2.4 s here with the estimate (200 + 400 ms per
	// flight), so 15 s leaves room for a loaded machine.
	if took > 15*time.Second {
		t.Errorf("renegotiation took %s, want well under 15 s (with tls-timeout's fixed 2 s + 4 s per flight it is at least 24 s)", took.Round(time.Millisecond))
	}
}
