package hostile

import (
	"context"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server"
)

var _ server.Device = (*injectDevice)(nil)

// injectDevice is a device whose Read returns the packets the test feeds
// it, one per call; Write counts like countDevice.
type injectDevice struct {
	countDevice
	in chan []byte
}

func newInjectDevice() *injectDevice {
	return &injectDevice{countDevice: countDevice{done: make(chan struct{})}, in: make(chan []byte)}
}

func (d *injectDevice) Read(bufs [][]byte, sizes []int, off int) (int, error) {
	select {
	case <-d.done:
		return 0, os.ErrClosed
	case p := <-d.in:
		sizes[0] = copy(bufs[0][off:], p)
		return 1, nil
	}
}

// ipv4To returns an IPv4 packet of n bytes addressed to dst (only what
// the server's device loop looks at is filled in).
func ipv4To(dst netip.Addr, n int) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	p[2], p[3] = byte(n>>8), byte(n)
	p[9] = 17
	copy(p[12:16], []byte{10, 99, 0, 1})
	a := dst.As4()
	copy(p[16:20], a[:])
	return p
}

// TestTCPClientThatStopsReading: an established TCP client that stops
// reading its socket (zero window) must not hold up the packets the
// server sends to other clients. The device produces packets for the
// stalled client A and a healthy client B alternately, 1,400 bytes each,
// 20,000 for each (28 MB for A: more than loopback's socket buffers
// hold), B's paced like a TCP flow (at most 32 in flight); B must
// receive all of its packets within 10 s.
func TestTCPClientThatStopsReading(t *testing.T) {
	dev := newInjectDevice()
	l := startTCPLabDevice(t, labOpts{handWindow: 5 * time.Second}, dev)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	release := make(chan struct{})
	var aGot, bGot atomic.Int64
	a, err := tcpSession(ctx, l.client, func([]byte) {
		if aGot.Add(1) == 1 {
			<-release // A reads one data packet, then never again
		}
	})
	if err != nil {
		t.Fatalf("client A: %v", err)
	}
	t.Cleanup(a.Close)
	t.Cleanup(func() { close(release) }) // runs before a.Close
	if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == 1 }) {
		t.Fatal("client A not listed")
	}
	aIP := netip.MustParseAddr(l.srv.Connections()[0].ClientIP)
	b, err := tcpSession(ctx, l.client, func([]byte) { bGot.Add(1) })
	if err != nil {
		t.Fatalf("client B: %v", err)
	}
	t.Cleanup(b.Close)
	var bIP netip.Addr
	if !waitFor(5*time.Second, func() bool {
		for _, c := range l.srv.Connections() {
			if ip := netip.MustParseAddr(c.ClientIP); ip != aIP {
				bIP = ip
				return true
			}
		}
		return false
	}) {
		t.Fatal("client B not listed")
	}

	const perClient, size, window = 20000, 1400, 32
	toA, toB := ipv4To(aIP, size), ipv4To(bIP, size)
	var fed atomic.Int64
	fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
	defer fcancel()
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		for i := range perClient {
			// Paced like a TCP flow inside the tunnel: at most
			// window packets for B in flight.
			for int64(i)-bGot.Load() > window {
				if fctx.Err() != nil {
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
			for _, p := range [][]byte{toA, toB} {
				select {
				case dev.in <- p:
					fed.Add(1)
				case <-fctx.Done():
					return
				}
			}
		}
	}()
	ok := waitFor(10*time.Second, func() bool { return bGot.Load() == perClient })
	took := time.Since(start)
	fcancel()
	wg.Wait()
	t.Logf("fed %d of %d packets to the device in %s; stalled client A read %d, healthy client B received %d of %d",
		fed.Load(), 2*perClient, took.Round(time.Millisecond), aGot.Load(), bGot.Load(), perClient)
	if !ok {
		t.Errorf("client B received %d of %d packets in %s while client A did not read: one stalled TCP client blocks the server's device loop for everyone (or drops B's packets)",
			bGot.Load(), perClient, took.Round(time.Millisecond))
	}
}
