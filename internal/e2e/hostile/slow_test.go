package hostile

import (
	"context"
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
)

// trickle writes to the control stream one byte at a time, every gap,
// until ctx ends: the slow-loris version of a TLS client.
type trickle struct {
	*control.Stream
	ctx context.Context
	gap time.Duration
}

func (t trickle) Write(b []byte) (int, error) {
	for i := range b {
		select {
		case <-t.ctx.Done():
			return i, t.ctx.Err()
		case <-time.After(t.gap):
		}
		if _, err := t.Stream.Write(b[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(b), nil
}

// TestSlowHandshakesEndAtHandWindow: clients that prove the reset cookie
// (so the server creates a session) and then stall, or trickle their
// ClientHello one byte every 100 ms, are ended by the hand-window (2 s
// here); every one gets a failed connection-log entry with reason
// tls-key-negotiation-timed-out, and goroutines, sessions and metrics
// return to their baseline. A real client connects meanwhile.
func TestSlowHandshakesEndAtHandWindow(t *testing.T) {
	const hw = 2 * time.Second
	l := startLab(t, labOpts{handWindow: hw})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := dialAndLeave(ctx, l.client); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
		t.Fatal("warm-up session not released")
	}
	before := takeSnapshot(t)
	l.clog.Reset()

	const stalled, trickling = 40, 20
	start := time.Now()
	var clients []*rawClient
	for range stalled {
		clients = append(clients, dialRaw(t, l.client))
	}
	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	var wg sync.WaitGroup
	for range trickling {
		c := dialRaw(t, l.client)
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc := l.client.TLS.Clone()
			tls.Client(trickle{Stream: c.ch.Stream(0), ctx: tctx, gap: 100 * time.Millisecond}, tc).HandshakeContext(tctx)
		}()
	}
	defer wg.Wait()
	defer tcancel()
	if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == stalled+trickling }) {
		t.Fatalf("%d sessions exist, want %d (each client proved its cookie)", len(l.srv.Connections()), stalled+trickling)
	}
	// A real client is not held up by them.
	if err := dialAndLeave(ctx, l.client); err != nil {
		t.Fatalf("real client during the slow handshakes: %v", err)
	}
	if !waitFor(hw+5*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
		t.Fatalf("%d slow sessions still open %s after they started (hand-window %s)", len(l.srv.Connections()), time.Since(start), hw)
	}
	ended := time.Since(start)
	l.failedEntries(t, stalled+trickling) // end entries follow the table
	failed := 0
	for _, e := range l.entries(t) {
		if e.AttemptStatus == connlog.StatusFailed {
			failed++
			if e.FailureReason != "tls-key-negotiation-timed-out" {
				t.Errorf("slow client logged with reason %q", e.FailureReason)
			}
		}
	}
	if failed != stalled+trickling {
		t.Errorf("%d failed entries in the connection log, want %d", failed, stalled+trickling)
	}
	if n := strings.Count(l.logs.String(), "connection attempt failed"); n != stalled+trickling {
		t.Errorf("%d 'connection attempt failed' log lines, want %d", n, stalled+trickling)
	}
	if v := l.metric(t, "ActiveConnectionsCount"); v != 0 {
		t.Errorf("ActiveConnectionsCount %v", v)
	}
	tcancel()
	wg.Wait()
	for _, c := range clients {
		c.Close()
	}
	after := takeSnapshot(t)
	g := settle(before.goroutines+2, 5*time.Second)
	if g > before.goroutines+2 {
		t.Errorf("goroutines %d before, %d after", before.goroutines, g)
	}
	if after.fds > before.fds+2 {
		t.Errorf("fds %d before, %d after", before.fds, after.fds)
	}
	t.Logf("%d stalled + %d trickling sessions all ended %s after start (hand-window %s); goroutines %d -> %d, fds %d -> %d, heap %.1f -> %.1f MiB",
		stalled, trickling, ended.Round(10*time.Millisecond), hw, before.goroutines, g, before.fds, after.fds, mib(before.heap), mib(after.heap))
}
