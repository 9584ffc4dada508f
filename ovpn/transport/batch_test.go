package transport

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// udpPair returns a dialed Conn and the plain socket it talks to.
func udpPair(t *testing.T) (Conn, *net.UDPConn) {
	t.Helper()
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_ = srv.SetReadBuffer(4 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d Dialer
	c, err := d.Dial(ctx, UDP, srv.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// testPackets are runs of equal sizes (GSO candidates) broken by shorter
// and longer packets; every packet's bytes say which one it is.
func testPackets() [][]byte {
	sizes := []int{1400, 1400, 1400, 1400, 900, 1400, 1400, 60, 1500, 1400, 1400, 1400}
	for i := 0; i < 80; i++ {
		sizes = append(sizes, 1200)
	}
	sizes = append(sizes, 1)
	pkts := make([][]byte, len(sizes))
	for i, n := range sizes {
		pkts[i] = bytes.Repeat([]byte{byte(i)}, n)
	}
	return pkts
}

func TestUDPWriteBatchArrivesAsSeparateDatagrams(t *testing.T) {
	c, srv := udpPair(t)
	pkts := testPackets()
	if err := c.WriteBatch(pkts); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, MaxPacket)
	for i, want := range pkts {
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := srv.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("datagram %d: got %d bytes of %d, want %d bytes of %d", i, n, buf[0], len(want), want[0])
		}
	}
}

func TestUDPReadBatch(t *testing.T) {
	c, srv := udpPair(t)
	local := c.LocalAddr().(*net.UDPAddr)
	pkts := testPackets()
	for _, p := range pkts {
		if _, err := srv.WriteToUDP(p, local); err != nil {
			t.Fatal(err)
		}
	}
	// A datagram larger than its buffer is reported with size 0.
	bufs := make([][]byte, 8)
	sizes := make([]int, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	got := 0
	deadline := time.Now().Add(5 * time.Second)
	for got < len(pkts) && time.Now().Before(deadline) {
		n, err := c.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1 || n > len(bufs) {
			t.Fatalf("ReadBatch returned %d packets for %d buffers", n, len(bufs))
		}
		for i := 0; i < n; i++ {
			want := pkts[got]
			if !bytes.Equal(bufs[i][:sizes[i]], want) {
				t.Fatalf("packet %d: got %d bytes, want %d bytes of %d", got, sizes[i], len(want), want[0])
			}
			got++
		}
	}
	if got != len(pkts) {
		t.Fatalf("received %d of %d packets", got, len(pkts))
	}
	if _, err := srv.WriteToUDP(make([]byte, 2000), local); err != nil {
		t.Fatal(err)
	}
	n, err := c.ReadBatch(bufs, sizes)
	if err != nil || n != 1 || sizes[0] != 0 {
		t.Fatalf("oversize datagram: n=%d size=%d err=%v, want one packet of size 0", n, sizes[0], err)
	}
}

func TestUDPBatchAllocatesNothing(t *testing.T) {
	c, srv := udpPair(t)
	local := c.LocalAddr().(*net.UDPAddr)
	pkts := testPackets()[:16]
	sbuf := make([]byte, MaxPacket)
	bufs := make([][]byte, 16)
	sizes := make([]int, 16)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	allocs := testing.AllocsPerRun(50, func() {
		if err := c.WriteBatch(pkts); err != nil {
			t.Fatal(err)
		}
		for range pkts {
			srv.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := srv.Read(sbuf); err != nil {
				t.Fatal(err)
			}
		}
		srv.WriteToUDP(pkts[0], local)
		if _, err := c.ReadBatch(bufs, sizes); err != nil {
			t.Fatal(err)
		}
	})
	// The plain socket's SetReadDeadline/WriteToUDP may allocate; the
	// batch calls must not, so allow at most what the test side costs.
	base := testing.AllocsPerRun(50, func() {
		for range pkts {
			srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		}
		srv.WriteToUDP(pkts[0], local)
		if _, err := c.ReadPacket(sbuf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > base {
		t.Fatalf("WriteBatch+ReadBatch allocate %.1f times per call beyond the test's own %.1f", allocs-base, base)
	}
}

func TestStreamBatchRoundTrip(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	sa := NewStream(a, netip.MustParseAddrPort("127.0.0.1:1"))
	sb := NewStream(b, netip.MustParseAddrPort("127.0.0.1:2"))
	pkts := testPackets()
	errc := make(chan error, 1)
	go func() { errc <- sa.WriteBatch(pkts) }()
	bufs := make([][]byte, 16)
	sizes := make([]int, 16)
	for i := range bufs {
		bufs[i] = make([]byte, 1500)
	}
	got := 0
	for got < len(pkts) {
		n, err := sb.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatalf("after %d packets: %v", got, err)
		}
		for i := 0; i < n; i++ {
			if !bytes.Equal(bufs[i][:sizes[i]], pkts[got]) {
				t.Fatalf("packet %d: got %d bytes, want %d", got, sizes[i], len(pkts[got]))
			}
			got++
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := sa.WriteBatch([][]byte{{1}, {}}); err == nil {
		t.Fatal("an empty packet in a batch was accepted")
	}
}

func BenchmarkUDPWriteBatch(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			var d Dialer
			c, err := d.Dial(context.Background(), UDP, srv.LocalAddr().(*net.UDPAddr).AddrPort())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			pkts := make([][]byte, 32)
			for i := range pkts {
				pkts[i] = make([]byte, size)
			}
			b.SetBytes(int64(size * len(pkts)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.WriteBatch(pkts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
