package transport

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestPacketConnBatches reads datagrams of two peers in batches with their
// sources, then sends each peer a batch (GSO runs included) back.
func TestPacketConnBatches(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:0", "[::]:0"} {
		t.Run(listen, func(t *testing.T) {
			lc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(listen)))
			if err != nil {
				t.Skipf("cannot listen on %s: %v", listen, err)
			}
			defer lc.Close()
			_ = lc.SetReadBuffer(4 << 20)
			pc, err := NewPacketConn(lc)
			if err != nil {
				t.Fatal(err)
			}
			srv := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), lc.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			var peers [2]*net.UDPConn
			for i := range peers {
				c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetReadBuffer(4 << 20)
				peers[i] = c
			}
			const per = 20
			for j := 0; j < per; j++ {
				for i, c := range peers {
					if _, err := c.Write([]byte{byte(i), byte(j)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			bufs := make([][]byte, 16)
			sizes := make([]int, 16)
			from := make([]netip.AddrPort, 16)
			for i := range bufs {
				bufs[i] = make([]byte, 100)
			}
			next := [2]int{}
			lc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for got := 0; got < 2*per; {
				n, err := pc.ReadBatchFrom(bufs, sizes, from)
				if err != nil {
					t.Fatalf("after %d datagrams: %v", got, err)
				}
				for k := 0; k < n; k++ {
					p := bufs[k][:sizes[k]]
					if len(p) != 2 || p[0] > 1 {
						t.Fatalf("datagram %d: %x", got+k, p)
					}
					want := peers[p[0]].LocalAddr().(*net.UDPAddr).AddrPort()
					want = netip.AddrPortFrom(want.Addr().Unmap(), want.Port())
					if from[k] != want {
						t.Fatalf("datagram from peer %d: source %s, want %s", p[0], from[k], want)
					}
					if int(p[1]) != next[p[0]] {
						t.Fatalf("peer %d: datagram %d out of order (want %d)", p[0], p[1], next[p[0]])
					}
					next[p[0]]++
				}
				got += n
			}
			pkts := testPackets()
			for i, c := range peers {
				to := c.LocalAddr().(*net.UDPAddr).AddrPort()
				if err := pc.WriteBatchTo(pkts, to); err != nil {
					t.Fatalf("peer %d: %v", i, err)
				}
			}
			buf := make([]byte, MaxPacket)
			for i, c := range peers {
				for k, want := range pkts {
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, err := c.Read(buf)
					if err != nil || !bytes.Equal(buf[:n], want) {
						t.Fatalf("peer %d datagram %d: %d bytes, err %v; want %d bytes", i, k, n, err, len(want))
					}
				}
			}
		})
	}
}

func TestPacketConnReadAllocatesNothing(t *testing.T) {
	lc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	pc, err := NewPacketConn(lc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, lc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bufs := [][]byte{make([]byte, 1500), make([]byte, 1500)}
	sizes := make([]int, 2)
	from := make([]netip.AddrPort, 2)
	pkts := [][]byte{make([]byte, 1000), make([]byte, 1000)}
	to := c.LocalAddr().(*net.UDPAddr).AddrPort()
	rb := make([]byte, 1500)
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := c.Write(rb[:100]); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.ReadBatchFrom(bufs, sizes, from); err != nil {
			t.Fatal(err)
		}
		if err := pc.WriteBatchTo(pkts, to); err != nil {
			t.Fatal(err)
		}
		for range pkts {
			if _, err := c.Read(rb); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per read + write batch, want 0", allocs)
	}
}
