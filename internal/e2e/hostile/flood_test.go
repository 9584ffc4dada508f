package hostile

import (
	"context"
	"crypto/rand"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/statickey"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// spoofers opens n UDP sockets on distinct loopback addresses
// (127.0.0.2, 127.0.0.3, …) with kernel-chosen ports: on loopback this is
// how a test plays many source addresses without raw sockets.
func spoofers(t *testing.T, n int) []*net.UDPConn {
	t.Helper()
	out := make([]*net.UDPConn, 0, n)
	for i := range n {
		a := netip.AddrFrom4([4]byte{127, 0, byte(i / 250), byte(2 + i%250)})
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
		if err != nil {
			t.Fatalf("bind %s: %v", a, err)
		}
		t.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return out
}

// hardReset builds a P_CONTROL_HARD_RESET_CLIENT_V2 with a random session
// id, wrapped by w.
func hardReset(t testing.TB, w tlswrap.Wrapper) []byte {
	t.Helper()
	var sid wire.SessionID
	rand.Read(sid[:])
	b, err := wire.AppendControl(nil, &wire.Control{Opcode: wire.OpHardResetClientV2, SessionID: sid})
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Wrap(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// garbage returns hostile datagrams of every kind the stateless path must
// shrug off: random bytes, truncated and over-long control packets, every
// opcode with random content, data packets for no session.
func garbage(t testing.TB, r *mrand.Rand, reset []byte) [][]byte {
	t.Helper()
	var out [][]byte
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for _, n := range []int{1, 2, 8, 9, 13, 14, 25, 100, 1400, 65000} {
		out = append(out, rnd(n))
	}
	for i := 1; i < len(reset); i++ {
		out = append(out, append([]byte(nil), reset[:i]...)) // truncated reset
	}
	out = append(out, append(append([]byte(nil), reset...), rnd(2000)...)) // trailing junk
	for op := range 32 {
		for _, n := range []int{1, 9, 26, 60, 300} {
			b := rnd(n)
			b[0] = byte(op<<3) | byte(r.IntN(8))
			out = append(out, b)
		}
	}
	// A control packet claiming 255 acks in 40 bytes.
	bad := append([]byte(nil), reset...)
	if len(bad) > 9 {
		bad[9] = 0xFF
	}
	out = append(out, bad)
	return out
}

// TestGarbageAndSpoofedResetFlood: 256 loopback source addresses send
// hard resets and garbage. Each valid reset is answered once with a
// stateless cookie; the server creates no session, writes no connection
// log entry, counts no failure and keeps its goroutine count, and a real
// client still connects afterwards. Cookie proofs replayed from another
// address start nothing.
func TestGarbageAndSpoofedResetFlood(t *testing.T) {
	for _, mode := range []string{"none", "tls-crypt", "tls-crypt-wrong-key"} {
		t.Run(mode, func(t *testing.T) {
			l := startLab(t, labOpts{tlsCrypt: mode != "none"})
			var w tlswrap.Wrapper = tlswrap.None{}
			newW := func() tlswrap.Wrapper { return tlswrap.None{} }
			switch mode {
			case "tls-crypt":
				newW = func() tlswrap.Wrapper { x, _ := tlswrap.NewTLSCrypt(l.wrapKey, wire.RoleClient, time.Now); return x }
			case "tls-crypt-wrong-key":
				k, _ := statickey.New(rand.Reader)
				newW = func() tlswrap.Wrapper { x, _ := tlswrap.NewTLSCrypt(k, wire.RoleClient, time.Now); return x }
			}
			w = newW()
			// Warm up: one real session so lazily started runtime
			// goroutines exist before the baseline.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := dialAndLeave(ctx, l.client); err != nil {
				t.Fatal(err)
			}
			if !waitFor(10*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
				t.Fatal("warm-up session not released")
			}
			l.clog.Reset()
			failuresBefore := l.metric(t, "AuthenticationFailures")
			before := takeSnapshot(t)

			const nAddr, perAddr = 256, 40
			conns := spoofers(t, nAddr)
			r := mrand.New(mrand.NewPCG(1, 2))
			junk := garbage(t, r, hardReset(t, w))
			var replies, replyBytes atomic.Int64
			var maxConns atomic.Int64
			var wg sync.WaitGroup
			cookies := make([][]byte, nAddr)
			start := time.Now()
			var sent atomic.Int64
			for i, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					w := newW() // a wrapper is not safe for concurrent use: one per sender
					buf := make([]byte, 2048)
					for j := range perAddr {
						if _, err := c.WriteToUDPAddrPort(hardReset(t, w), l.client.Server); err == nil {
							sent.Add(1)
						}
						if _, err := c.WriteToUDPAddrPort(junk[(i*perAddr+j)%len(junk)], l.client.Server); err == nil {
							sent.Add(1)
						}
					}
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						replies.Add(1)
						replyBytes.Add(int64(n))
						if cookies[i] == nil {
							cookies[i] = append([]byte(nil), buf[:n]...)
						}
						if k := int64(len(l.srv.Connections())); k > maxConns.Load() {
							maxConns.Store(k)
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			// Replay every cookie's proof from the neighbouring address.
			proofs := 0
			if mode != "tls-crypt-wrong-key" {
				cw := newW()
				for i := range conns {
					if cookies[i] == nil {
						continue
					}
					plain, err := cw.UnwrapNoReplay(append([]byte(nil), cookies[i]...))
					if err != nil {
						t.Fatalf("cookie reply: %v", err)
					}
					p, err := wire.DecodeControl(plain)
					if err != nil {
						t.Fatal(err)
					}
					ack := wire.Control{Opcode: wire.OpAckV1, SessionID: p.RemoteSessionID, Acks: []uint32{0}, RemoteSessionID: p.SessionID}
					b, _ := wire.AppendControl(nil, &ack)
					out, _ := newW().Wrap(nil, b)
					conns[(i+1)%nAddr].WriteToUDPAddrPort(out, l.client.Server)
					proofs++
				}
			}
			time.Sleep(300 * time.Millisecond)
			t.Logf("%s: %d datagrams from %d addresses in %s; %d replies (%d bytes), %d cross-address cookie proofs; sessions seen during flood: %d",
				mode, sent.Load(), nAddr, elapsed.Round(time.Millisecond), replies.Load(), replyBytes.Load(), proofs, maxConns.Load())

			wantReplies := int64(nAddr * perAddr)
			if mode == "tls-crypt-wrong-key" {
				wantReplies = 0
			}
			if mode == "none" {
				// Without a wrapper, junk that is itself a well-formed
				// reset (the one with trailing bytes, random packets that
				// happen to decode as one) is answered like any reset.
				for i := range nAddr {
					for j := range perAddr {
						b := junk[(i*perAddr+j)%len(junk)]
						if p, err := wire.DecodeControl(b); err == nil && p.Opcode == wire.OpHardResetClientV2 && p.KeyID == 0 {
							wantReplies++
						}
					}
				}
			}
			// UDP on loopback drops part of a burst (socket buffers); never
			// more replies than valid resets, and some answered.
			if got := replies.Load(); got > wantReplies || (wantReplies > 0 && got == 0) {
				t.Errorf("%d replies to %d valid resets", got, wantReplies)
			}
			if m := maxConns.Load(); m != 0 {
				t.Errorf("%d sessions existed during the flood", m)
			}
			if c := l.srv.Connections(); len(c) != 0 {
				t.Errorf("sessions after the flood: %+v", c)
			}
			if v := l.metric(t, "ActiveConnectionsCount"); v != 0 {
				t.Errorf("ActiveConnectionsCount %v", v)
			}
			if v := l.metric(t, "AuthenticationFailures"); v != failuresBefore {
				t.Errorf("AuthenticationFailures %v -> %v: a flood must not look like failed attempts", failuresBefore, v)
			}
			if s := l.clog.String(); s != "" {
				t.Errorf("connection log written by a flood:\n%s", s)
			}
			for _, c := range conns {
				c.Close()
			}
			after := takeSnapshot(t)
			if g := settle(before.goroutines+2, 5*time.Second); g > before.goroutines+2 {
				t.Errorf("goroutines %d before, %d after the flood", before.goroutines, g)
			}
			if after.fds-nAddr > before.fds+2 {
				t.Errorf("fds %d before, %d after closing the %d flood sockets", before.fds, after.fds, nAddr)
			}
			if after.heap > before.heap+8<<20 {
				t.Errorf("heap %d before, %d after", before.heap, after.heap)
			}
			t.Logf("goroutines %d -> %d, fds %d -> %d (flood sockets closed), heap %.1f -> %.1f MiB",
				before.goroutines, runtimeGoroutines(), before.fds, after.fds, mib(before.heap), mib(after.heap))
			// The server still serves real clients.
			if err := dialAndLeave(ctx, l.client); err != nil {
				t.Fatalf("a real client cannot connect after the flood: %v", err)
			}
		})
	}
}

func mib(b uint64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }
