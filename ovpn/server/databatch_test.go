package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/server/authz"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// recordDevice keeps copies of what the server writes and hands out
// prepared packets on Read.
type recordDevice struct {
	writes [][]byte
	calls  int
	keep   bool
	toRead [][]byte
}

func (d *recordDevice) Read(bufs [][]byte, sizes []int, off int) (int, error) {
	n := copy(sizes, make([]int, len(d.toRead)))
	for i := 0; i < n; i++ {
		sizes[i] = copy(bufs[i][off:], d.toRead[i])
	}
	return n, nil
}

func (d *recordDevice) Write(bufs [][]byte, off int) (int, error) {
	d.calls++
	if d.keep {
		for _, b := range bufs {
			d.writes = append(d.writes, bytes.Clone(b[off:]))
		}
	}
	return len(bufs), nil
}
func (d *recordDevice) BatchSize() int { return 64 }
func (d *recordDevice) Close() error   { return nil }

// ipPacket is an IPv4 packet of n bytes from src to dst whose payload
// bytes are tag.
func ipPacket(src, dst netip.Addr, n int, tag byte) []byte {
	p := bytes.Repeat([]byte{tag}, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(n))
	s4, d4 := src.As4(), dst.As4()
	copy(p[12:16], s4[:])
	copy(p[16:20], d4[:])
	return p
}

// testDataServer is a server with two established sessions whose client
// keys are returned (client-side keys seal what the server opens).
func testDataServer(t testing.TB) (*Server, *recordDevice, []*session, []*datachannel.Keys) {
	t.Helper()
	pool, err := NewPool(netip.MustParsePrefix("10.9.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	dev := &recordDevice{}
	s := &Server{log: slog.New(slog.DiscardHandler), now: time.Now, pool: pool, dev: dev,
		authz:    authz.New([]authz.Rule{{Destination: netip.MustParsePrefix("0.0.0.0/0")}}),
		sessions: map[string]*session{}, byIP: map[netip.Addr]*session{}, byPeer: map[netip.AddrPort]*session{},
		byPeerID: map[uint32]*session{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sessCtx, s.sessCancel = context.WithCancel(context.Background())
	t.Cleanup(s.cancel)
	t.Cleanup(s.sessCancel)
	var sessions []*session
	var clients []*datachannel.Keys
	for i := 0; i < 2; i++ {
		var kb keys.KeyBlock
		for j := range kb {
			kb[j] = byte(i*7 + j)
		}
		peer := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1000+i))
		ss := s.newSession(peer, false, func([]byte) error { return nil })
		ss.ip, _ = pool.Allocate()
		ss.dataV2, ss.peerID = true, uint32(i)
		ss.established.Store(true)
		sk, err := datachannel.NewKey(&kb, datachannel.Config{Cipher: datachannel.CipherAES256GCM, Role: wire.RoleServer, DataV2: true, PeerID: uint32(i)})
		if err != nil {
			t.Fatal(err)
		}
		ss.keys.Install(sk, true)
		ck, err := datachannel.NewKey(&kb, datachannel.Config{Cipher: datachannel.CipherAES256GCM, Role: wire.RoleClient, DataV2: true, PeerID: uint32(i)})
		if err != nil {
			t.Fatal(err)
		}
		var cks datachannel.Keys
		cks.Install(ck, true)
		s.register(ss)
		s.publish(ss)
		sessions = append(sessions, ss)
		clients = append(clients, &cks)
	}
	return s, dev, sessions, clients
}

// TestRxBatchOpensAndWritesOnce checks that the packets of one socket read
// reach the device in order with one Write, and that counters and the
// receive time are updated.
func TestRxBatchOpensAndWritesOnce(t *testing.T) {
	s, dev, ss, cl := testDataServer(t)
	dev.keep = true
	rx := newRxBatch(s, 8)
	dst := netip.MustParseAddr("198.51.100.7")
	var want [][]byte
	for i := 0; i < 5; i++ {
		c := i % 2
		p := ipPacket(ss[c].ip, dst, 100+i, byte(i))
		sealed, err := cl[c].Seal(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		rx.add(ss[c], sealed)
		want = append(want, p)
	}
	// A forged source address is dropped and counted.
	bad, _ := cl[0].Seal(nil, ipPacket(ss[1].ip, dst, 60, 9))
	rx.add(ss[0], bad)
	if dev.calls != 0 {
		t.Fatal("device written before the end of the batch")
	}
	rx.flush()
	if dev.calls != 1 || len(dev.writes) != len(want) {
		t.Fatalf("%d device writes with %d packets, want 1 with %d", dev.calls, len(dev.writes), len(want))
	}
	for i := range want {
		if !bytes.Equal(dev.writes[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	if got := ss[0].inPkts.Load(); got != 4 { // 3 good + 1 forged (counted, then dropped)
		t.Errorf("session 0 counted %d packets in, want 4", got)
	}
	if got := ss[1].inPkts.Load(); got != 2 {
		t.Errorf("session 1 counted %d packets in, want 2", got)
	}
	if ss[0].dropped.Load() != 1 {
		t.Errorf("session 0 dropped %d packets, want 1", ss[0].dropped.Load())
	}
}

// TestTxBatchGroupsPerClient checks that packets from the device are
// sealed and sent as one batch per run of packets for one client.
func TestTxBatchGroupsPerClient(t *testing.T) {
	s, _, ss, cl := testDataServer(t)
	var got [2][][][]byte
	for i := range ss {
		ss[i].sendBatchFn = func(p [][]byte) error {
			var c [][]byte
			for _, b := range p {
				c = append(c, bytes.Clone(b))
			}
			got[i] = append(got[i], c)
			return nil
		}
	}
	src := netip.MustParseAddr("198.51.100.7")
	order := []int{0, 0, 0, 1, 1, 0}
	var pkts [][]byte
	bufs := make([][]byte, len(order))
	sizes := make([]int, len(order))
	for i, c := range order {
		p := ipPacket(src, ss[c].ip, 200+i, byte(i))
		pkts = append(pkts, p)
		bufs[i] = make([]byte, slotSize)
		sizes[i] = copy(bufs[i][DeviceOffset:], p)
	}
	tx := newTxBatch(s, len(order))
	tx.run(bufs, sizes, len(order))
	if len(got[0]) != 2 || len(got[0][0]) != 3 || len(got[0][1]) != 1 || len(got[1]) != 1 || len(got[1][0]) != 2 {
		t.Fatalf("batches per client: %d/%d, want runs 3+1 and 2", len(got[0]), len(got[1]))
	}
	k := [2]int{}
	for i, c := range order {
		var flat [][]byte
		for _, b := range got[c] {
			flat = append(flat, b...)
		}
		plain, _, err := cl[c].Open(nil, flat[k[c]])
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(plain, pkts[i]) {
			t.Fatalf("packet %d differs after the round trip", i)
		}
		k[c]++
	}
	if ss[0].outPkts.Load() != 4 || ss[1].outPkts.Load() != 2 {
		t.Fatalf("out packets %d/%d, want 4/2", ss[0].outPkts.Load(), ss[1].outPkts.Load())
	}
}

// TestDataPathAllocatesNothing: opening a batch into the device and sealing
// a device batch to the clients allocate nothing per packet.
func TestDataPathAllocatesNothing(t *testing.T) {
	s, _, ss, cl := testDataServer(t)
	for i := range ss {
		ss[i].sendBatchFn = func([][]byte) error { return nil }
	}
	dst := netip.MustParseAddr("198.51.100.7")
	const n = 32
	sealed := make([][]byte, n)
	bufs := make([][]byte, n)
	sizes := make([]int, n)
	for i := range sealed {
		c := i / 20
		sealed[i] = make([]byte, 0, 2000)
		bufs[i] = make([]byte, slotSize)
		sizes[i] = copy(bufs[i][DeviceOffset:], ipPacket(dst, ss[c].ip, 1400, byte(i)))
	}
	plain := ipPacket(ss[0].ip, dst, 1400, 1)
	rx := newRxBatch(s, n)
	tx := newTxBatch(s, n)
	// Each run seals a fresh batch on the client side (fresh packet ids)
	// and opens it into the device.
	a := testing.AllocsPerRun(50, func() {
		for i := range sealed {
			c := i / 20
			src := ss[c].ip.As4()
			copy(plain[12:16], src[:])
			sealed[i], _ = cl[c].Seal(sealed[i][:0], plain)
		}
		for i := range sealed {
			rx.add(ss[i/20], sealed[i])
		}
		rx.flush()
	})
	if a != 0 {
		t.Fatalf("receive path: %v allocations per batch of %d", a, n)
	}
	if ss[0].inPkts.Load() != 51*20 || s.m.badPackets.Load() != 0 {
		t.Fatalf("session 0 received %d packets (%d bad), want %d", ss[0].inPkts.Load(), s.m.badPackets.Load(), 51*20)
	}
	if a := testing.AllocsPerRun(50, func() { tx.run(bufs, sizes, n) }); a != 0 {
		t.Fatalf("send path: %v allocations per batch of %d", a, n)
	}
}

// BenchmarkServerDataPath measures the server's per-packet work in both
// directions: open a batch of 1400-byte packets into the device ("open"
// includes the client-side seal that makes fresh packets), and seal
// a device batch to a client.
func BenchmarkServerDataPath(b *testing.B) {
	s, _, ss, cl := testDataServer(b)
	ss[0].sendBatchFn = func([][]byte) error { return nil }
	const n = 64
	dst := netip.MustParseAddr("198.51.100.7")
	plain := ipPacket(ss[0].ip, dst, 1400, 1)
	sealed := make([][]byte, n)
	bufs := make([][]byte, n)
	sizes := make([]int, n)
	for i := range sealed {
		sealed[i] = make([]byte, 0, 2000)
		bufs[i] = make([]byte, slotSize)
		sizes[i] = copy(bufs[i][DeviceOffset:], ipPacket(dst, ss[0].ip, 1400, byte(i)))
	}
	rx := newRxBatch(s, n)
	tx := newTxBatch(s, n)
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1400)
		for i := 0; i < b.N; i++ {
			k := i % n
			sealed[k], _ = cl[0].Seal(sealed[k][:0], plain)
			rx.add(ss[0], sealed[k])
			if k == n-1 {
				rx.flush()
			}
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(1400 * n)
		for i := 0; i < b.N; i++ {
			tx.run(bufs, sizes, n)
		}
	})
}
