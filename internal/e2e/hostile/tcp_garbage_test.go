package hostile

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/statickey"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// frame puts the 2-byte big-endian TCP length prefix in front of pkt.
func frame(pkt []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)
}

// tcpGarbage is one hostile opening of a TCP connection.
type tcpGarbage struct {
	name      string
	bytes     []byte
	halfClose bool // send FIN after the bytes (the server sees EOF)
}

// tcpGarbageCases returns openings that must make the server close the
// connection at once without creating a session. reset is a valid hard
// reset for the server's wrapper (without its length prefix).
func tcpGarbageCases(r *mrand.Rand, reset []byte, wrapped bool) []tcpGarbage {
	rnd := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	var out []tcpGarbage
	add := func(name string, b []byte, fin bool) { out = append(out, tcpGarbage{name, b, fin}) }

	add("zero length prefix", []byte{0, 0}, false)
	add("zero length prefix then a reset", append([]byte{0, 0}, frame(reset)...), false)
	big := rnd(70 << 10) // the first "packet" is complete whatever its length
	if big[2]>>3 == byte(wire.OpHardResetClientV2) {
		big[2] ^= 0x80
	}
	add("70 KiB of random bytes", big, false)
	add("random bytes then FIN", rnd(1000), true)
	add("length 65535 with a 10-byte body then FIN", append([]byte{0xFF, 0xFF}, rnd(10)...), true)
	add("length prefix only then FIN", []byte{0x00, 0x0e}, true)
	add("first length byte then FIN", []byte{0x00}, true)
	for i := 1; i < len(reset); i++ {
		add("reset truncated to "+strconv.Itoa(i)+" bytes", frame(reset[:i]), false)
	}
	for op := range 32 {
		if op == int(wire.OpHardResetClientV2) {
			continue
		}
		b := rnd(26)
		b[0] = byte(op<<3) | byte(r.IntN(8))
		add("opcode "+strconv.Itoa(op)+" first", frame(b), false)
	}
	rk := append([]byte(nil), reset...)
	rk[0] = byte(wire.OpHardResetClientV2)<<3 | 3
	add("reset with key id 3", frame(rk), false)
	dv2 := rnd(100)
	dv2[0] = byte(wire.OpDataV2) << 3
	add("P_DATA_V2 before any handshake", frame(dv2), false)
	add("P_DATA_V2 then a reset", append(frame(dv2), frame(reset)...), false)
	dv1 := rnd(100)
	dv1[0] = byte(wire.OpDataV1) << 3
	add("P_DATA_V1 before any handshake", frame(dv1), false)
	ack := rnd(40)
	ack[0] = byte(wire.OpAckV1) << 3
	add("ACK_V1 before any handshake", frame(ack), false)
	if !wrapped {
		acks := append([]byte(nil), reset...)
		acks[1+wire.SessionIDLen] = 0xFF // 255 acks in a 14-byte packet
		add("reset claiming 255 acks", frame(acks), false)
		zero := append([]byte(nil), reset...)
		clear(zero[1 : 1+wire.SessionIDLen])
		add("reset with a zero session id", frame(zero), false)
	}
	return out
}

// TestTCPGarbageStreams: TCP connections that open with garbage (random
// bytes, a zero or oversize length prefix, every truncation of a hard
// reset, every other opcode, data packets before any handshake, with
// tls-crypt a reset under the wrong key or none) are closed by the server
// at once, create no session, write no connection-log entry and count no
// failed attempt; goroutines and fds return to the baseline, and a real
// TCP client connects while the garbage arrives.
func TestTCPGarbageStreams(t *testing.T) {
	for _, mode := range []string{"none", "tls-crypt"} {
		t.Run(mode, func(t *testing.T) {
			l := startTCPLab(t, labOpts{tlsCrypt: mode == "tls-crypt", handWindow: 5 * time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Warm up (lazily started runtime goroutines) and learn how
			// many log entries one real session writes.
			if _, err := tcpConnect(ctx, l.client); err != nil {
				t.Fatalf("warm-up client: %v", err)
			}
			if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
				t.Fatal("warm-up session not released")
			}
			perSession := len(l.entries(t))
			l.clog.Reset()
			failuresBefore := l.metric(t, "AuthenticationFailures")
			before := takeSnapshot(t)

			var w tlswrap.Wrapper = tlswrap.None{}
			if mode == "tls-crypt" {
				w, _ = l.client.Wrapper()
			}
			r := mrand.New(mrand.NewPCG(3, 4))
			reset := hardReset(t, w)
			cases := tcpGarbageCases(r, reset[:len(reset):len(reset)], mode != "none")
			if mode == "tls-crypt" {
				k, err := statickey.New(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				wrong, _ := tlswrap.NewTLSCrypt(k, wire.RoleClient, time.Now)
				cases = append(cases,
					tcpGarbage{"reset under the wrong tls-crypt key", frame(hardReset(t, wrong)), false},
					tcpGarbage{"reset without tls-crypt", frame(hardReset(t, tlswrap.None{})), false})
			}

			// Watch the session table for the whole run.
			var maxSessions atomic.Int64
			mctx, mcancel := context.WithCancel(ctx)
			var mwg sync.WaitGroup
			mwg.Add(1)
			go func() {
				defer mwg.Done()
				for mctx.Err() == nil {
					if n := int64(len(l.srv.Connections())); n > maxSessions.Load() {
						maxSessions.Store(n)
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()

			conns := dialTCP(t, l.client.Server.String(), len(cases))
			start := time.Now()
			var wg sync.WaitGroup
			took := make([]time.Duration, len(cases))
			errs := make([]error, len(cases))
			for i, c := range cases {
				wg.Add(1)
				go func() {
					defer wg.Done()
					conn := conns[i]
					if _, err := conn.Write(c.bytes); err != nil {
						// The server may already have reset the connection
						// (70 KiB random: it closes after the first packet).
						took[i] = time.Since(start)
						return
					}
					if c.halfClose {
						conn.CloseWrite()
					}
					took[i], errs[i] = serverClosed(conn, 3*time.Second)
				}()
			}
			// A real client meanwhile.
			realTook, realErr := tcpConnect(ctx, l.client)
			wg.Wait()
			all := time.Since(start)
			if realErr != nil {
				t.Errorf("real client during the garbage: %v", realErr)
			}
			var slowest time.Duration
			for i, c := range cases {
				if errs[i] != nil {
					t.Errorf("%s: %v", c.name, errs[i])
				}
				slowest = max(slowest, took[i])
			}
			if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
				t.Errorf("sessions left: %+v", l.srv.Connections())
			}
			mcancel()
			mwg.Wait()
			// Only the real client may have had a session.
			if m := maxSessions.Load(); m > 1 {
				t.Errorf("%d sessions at once during the garbage (only the real client may have one)", m)
			}
			waitFor(5*time.Second, func() bool { return len(l.entries(t)) >= perSession })
			ents := l.entries(t)
			for _, e := range ents {
				if e.AttemptStatus != connlog.StatusSuccessful {
					t.Errorf("garbage wrote a connection-log entry: %+v", e)
				}
			}
			if len(ents) != perSession {
				t.Errorf("%d connection-log entries, want %d (the real client's)", len(ents), perSession)
			}
			if v := l.metric(t, "AuthenticationFailures"); v != failuresBefore {
				t.Errorf("AuthenticationFailures %v -> %v", failuresBefore, v)
			}
			if v := l.metric(t, "ActiveConnectionsCount"); v != 0 {
				t.Errorf("ActiveConnectionsCount %v", v)
			}
			for _, c := range conns {
				c.Close()
			}
			g, after := released(t, before, 2)
			t.Logf("%s: %d garbage connections all closed by the server within %s (slowest %s); real client connected in %s meanwhile; sessions at once <= %d; goroutines %d -> %d, fds %d -> %d, heap %.1f -> %.1f MiB",
				mode, len(cases), all.Round(time.Millisecond), slowest.Round(time.Millisecond), realTook.Round(time.Millisecond),
				maxSessions.Load(), before.goroutines, g, before.fds, after.fds, mib(before.heap), mib(after.heap))
		})
	}
}
