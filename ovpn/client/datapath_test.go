package client

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// dpLab is a client link whose UDP socket talks to a peer socket on
// loopback that holds the server's data key.
type dpLab struct {
	l    *link
	peer transport.Conn
	srv  *datachannel.Key // the server's key, to seal and open on the peer
}

func newDPLab(t testing.TB) *dpLab {
	t.Helper()
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	peerAddr := ln.LocalAddr().(*net.UDPAddr).AddrPort()
	ctx, cancel := context.WithCancel(context.Background())
	var d transport.Dialer
	conn, err := d.Dial(ctx, transport.UDP, peerAddr)
	if err != nil {
		t.Fatal(err)
	}
	// The peer: a socket on the listener's port connected back to the client.
	ln.Close()
	local := conn.LocalAddr().(*net.UDPAddr)
	pc, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(peerAddr), local)
	if err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadBuffer(4 << 20)
	peer, err := transport.NewUDPConn(pc, local.AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	var kb keys.KeyBlock
	for i := range kb {
		kb[i] = byte(i * 7)
	}
	mk := func(r wire.Role) *datachannel.Key {
		k, err := datachannel.NewKey(&kb, datachannel.Config{Cipher: datachannel.CipherAES256GCM, Role: r, KeyID: 0, DataV2: true, PeerID: 7})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	prof := &profile.Profile{}
	l := &link{cfg: &Config{Profile: prof}, prof: prof, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		conn: conn, peer: "udp " + peerAddr.String(), server: peerAddr, fail: make(chan error, 1), ctx: ctx, cancel: cancel}
	l.keys.Install(mk(wire.RoleClient), true)
	lab := &dpLab{l: l, peer: peer, srv: mk(wire.RoleServer)}
	t.Cleanup(func() {
		l.cancel()
		conn.Close()
		peer.Close()
		l.wg.Wait()
	})
	return lab
}

// start runs the link's read loop with the data path on dev.
func (lab *dpLab) start(dev tun.Device) *dataPath {
	dp := newDataPath(lab.l, dev, &Stats{}, 1500)
	fn := dp.fromNetwork
	lab.l.data.Store(&fn)
	lab.l.wg.Add(1)
	go lab.l.readLoop()
	return dp
}

// ipv4Packet is an IPv4 UDP packet of n bytes whose payload bytes are seq.
func ipv4Packet(n int, seq byte) []byte {
	p := bytes.Repeat([]byte{seq}, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(n))
	p[8], p[9] = 64, 17
	copy(p[12:], []byte{10, 8, 0, 2, 10, 8, 0, 1})
	return p
}

// TestDataPathRoundTrip moves packets both ways between a channel TUN and
// the peer: what the TUN sends arrives sealed at the peer, what the peer
// seals arrives opened at the TUN, in order.
func TestDataPathRoundTrip(t *testing.T) {
	lab := newDPLab(t)
	ct := tuntest.NewChannelTUN()
	dp := lab.start(ct.TUN())
	errc := make(chan error, 1)
	go func() { errc <- dp.fromTUN() }()
	t.Cleanup(func() {
		ct.TUN().Close()
		if err := <-errc; err != nil {
			t.Errorf("fromTUN: %v", err)
		}
	})

	bufs := make([][]byte, 8)
	sizes := make([]int, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	for i := 0; i < 20; i++ {
		want := ipv4Packet(100+i*50, byte(i))
		ct.Outbound <- want
		n, err := readWithin(lab.peer, bufs, sizes, 5*time.Second)
		if err != nil || n != 1 {
			t.Fatalf("packet %d: peer got %d packets, %v", i, n, err)
		}
		got, err := lab.srv.Open(nil, bufs[0][:sizes[0]])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("packet %d: peer opened %d bytes (%v), want %d", i, len(got), err, len(want))
		}
	}
	// Download: one batch of several packets from the peer.
	var out [][]byte
	for i := 0; i < 10; i++ {
		s, err := lab.srv.Seal(nil, ipv4Packet(200+i, byte(100+i)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	ping, _ := lab.srv.Seal(nil, datachannel.AppendPing(nil))
	out = append(out[:5], append([][]byte{ping}, out[5:]...)...) // a ping is not passed on
	if err := lab.peer.WriteBatch(out); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		select {
		case got := <-ct.Inbound:
			if want := ipv4Packet(200+i, byte(100+i)); !bytes.Equal(got, want) {
				t.Fatalf("download packet %d: got %d bytes, want %d", i, len(got), len(want))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("download packet %d did not arrive", i)
		}
	}
	if got := dp.stats.PacketsIn.Load(); got != 10 {
		t.Fatalf("PacketsIn = %d, want 10", got)
	}
	// fromTUN counts a batch after sending it, so the peer may have the
	// last packet before the count moves: wait for it (bounded).
	for deadline := time.Now().Add(5 * time.Second); dp.stats.PacketsOut.Load() < 20 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := dp.stats.PacketsOut.Load(); got != 20 {
		t.Fatalf("PacketsOut = %d, want 20", got)
	}
}

// readWithin reads one batch from c, failing after d.
func readWithin(c transport.Conn, bufs [][]byte, sizes []int, d time.Duration) (int, error) {
	type res struct {
		n   int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		n, err := c.ReadBatch(bufs, sizes)
		ch <- res{n, err}
	}()
	select {
	case r := <-ch:
		return r.n, r.err
	case <-time.After(d):
		c.Close()
		return 0, os.ErrDeadlineExceeded
	}
}

// batchTUN is a tun.Device for benchmarks: Read hands out a prepared batch
// once per signal on next, Write counts packets and signals got once a
// whole batch has arrived. It allocates nothing.
type batchTUN struct {
	pkts    [][]byte
	next    chan struct{}
	got     chan struct{}
	want    int
	written atomic.Int64
	closed  chan struct{}
	events  chan tun.Event
}

func newBatchTUN(pkts [][]byte, want int) *batchTUN {
	return &batchTUN{pkts: pkts, want: want, next: make(chan struct{}, 1), got: make(chan struct{}, 1),
		closed: make(chan struct{}), events: make(chan tun.Event)}
}

func (b *batchTUN) File() *os.File { return nil }
func (b *batchTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case <-b.closed:
		return 0, os.ErrClosed
	case <-b.next:
	}
	n := min(len(bufs), len(b.pkts))
	for i := 0; i < n; i++ {
		sizes[i] = copy(bufs[i][offset:], b.pkts[i])
	}
	return n, nil
}
func (b *batchTUN) Write(bufs [][]byte, offset int) (int, error) {
	if b.written.Add(int64(len(bufs))) >= int64(b.want) {
		b.written.Store(0)
		b.got <- struct{}{}
	}
	return len(bufs), nil
}
func (b *batchTUN) MTU() (int, error)        { return 1500, nil }
func (b *batchTUN) Name() (string, error)    { return "bench0", nil }
func (b *batchTUN) Events() <-chan tun.Event { return b.events }
func (b *batchTUN) Close() error             { close(b.closed); return nil }
func (b *batchTUN) BatchSize() int           { return len(b.pkts) }

const benchBatch, benchSize = 64, 1400

// BenchmarkDataPathUpload measures TUN read -> seal -> sendmmsg/GSO for a
// batch of 64 packets of 1400 bytes; the peer receives every batch before
// the next is read (ns/op is per batch, ns/pkt per packet).
func BenchmarkDataPathUpload(b *testing.B) {
	lab := newDPLab(b)
	pkts := make([][]byte, benchBatch)
	for i := range pkts {
		pkts[i] = ipv4Packet(benchSize, byte(i))
	}
	dev := newBatchTUN(pkts, benchBatch)
	dp := newDataPath(lab.l, dev, &Stats{}, 1500)
	errc := make(chan error, 1)
	go func() { errc <- dp.fromTUN() }()
	bufs := make([][]byte, benchBatch)
	sizes := make([]int, benchBatch)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	batch := func() {
		dev.next <- struct{}{}
		for got := 0; got < benchBatch; {
			n, err := lab.peer.ReadBatch(bufs, sizes)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
	batch() // the loop allocates its buffers once, before the measurement
	b.SetBytes(benchBatch * benchSize)
	b.ReportAllocs()
	for b.Loop() {
		batch()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/pkt")
	dev.Close()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDataPathDownload measures recvmmsg -> open -> TUN write for a
// batch of 64 packets of 1400 bytes; the peer seals and sends each batch
// (its sealing is included) after the previous one reached the TUN.
func BenchmarkDataPathDownload(b *testing.B) {
	lab := newDPLab(b)
	dev := newBatchTUN(nil, benchBatch)
	lab.start(dev)
	plain := ipv4Packet(benchSize, 1)
	sealed := make([][]byte, benchBatch)
	for i := range sealed {
		sealed[i] = make([]byte, 0, benchSize+64)
	}
	timeout := time.NewTimer(time.Hour) // reused: time.After would allocate per batch
	defer timeout.Stop()
	batch := func() {
		for i := range sealed {
			s, err := lab.srv.Seal(sealed[i][:0], plain)
			if err != nil {
				b.Fatal(err)
			}
			sealed[i] = s
		}
		if err := lab.peer.WriteBatch(sealed); err != nil {
			b.Fatal(err)
		}
		timeout.Reset(5 * time.Second)
		select {
		case <-dev.got:
		case <-timeout.C:
			b.Fatalf("batch did not reach the TUN device (%d of %d packets)", dev.written.Load(), benchBatch)
		}
	}
	// Warm up: the first batch starts the read loop; the loop's batch and
	// its decryption slots grow (doubling) to the largest batch it has seen,
	// once, so a few batches leave only the steady state to measure.
	for range 8 {
		batch()
	}
	b.SetBytes(benchBatch * benchSize)
	b.ReportAllocs()
	for b.Loop() {
		batch()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/pkt")
}
