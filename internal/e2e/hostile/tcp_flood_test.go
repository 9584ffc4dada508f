package hostile

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server/connlog"
)

// TestTCPConnectionFloodEndsAtHandWindow: 200 TCP connections that stall
// (50 send nothing, 50 only the first byte of the length prefix, 50 a
// 65535-byte length prefix with a 10-byte body, 50 a valid hard reset and
// then nothing) are all closed by the server by the hand-window (2 s
// here, plus 1.5 s slack), not later (a server may refuse the oversize
// prefix sooner); the 50 reset sessions end with a failed
// tls-key-negotiation-timed-out entry each, the others leave no trace; a
// real TCP client connects during the flood; goroutines and fds return to
// the baseline.
func TestTCPConnectionFloodEndsAtHandWindow(t *testing.T) {
	const hw = 2 * time.Second
	const slack = 1500 * time.Millisecond // how late after the hand-window a connection may close
	l := startTCPLab(t, labOpts{handWindow: hw})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := tcpConnect(ctx, l.client); err != nil {
		t.Fatalf("warm-up client: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
		t.Fatal("warm-up session not released")
	}
	l.clog.Reset()
	failuresBefore := l.metric(t, "AuthenticationFailures")
	before := takeSnapshot(t)

	const perKind = 50
	kinds := []struct {
		name  string
		bytes []byte
	}{
		{"silent", nil},
		{"first length byte", []byte{0x00}},
		{"length 65535, 10-byte body", append([]byte{0xFF, 0xFF}, make([]byte, 10)...)},
	}
	type result struct {
		kind string
		took time.Duration
		err  error
	}
	results := make(chan result, perKind*(len(kinds)+1))
	var wg sync.WaitGroup
	start := time.Now()
	var raw []*net.TCPConn
	for _, k := range kinds {
		conns := dialTCP(t, l.client.Server.String(), perKind)
		raw = append(raw, conns...)
		for _, c := range conns {
			if len(k.bytes) > 0 {
				if _, err := c.Write(k.bytes); err != nil {
					t.Fatal(err)
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := serverClosed(c, time.Until(start.Add(hw+slack)))
				results <- result{k.name, time.Since(start), err}
			}()
		}
	}
	var resets []*rawClient
	for range perKind {
		c := dialRawTCP(t, l.client)
		resets = append(resets, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			bound := time.NewTimer(time.Until(start.Add(hw + slack)))
			defer bound.Stop()
			select {
			case <-c.done:
				results <- result{"hard reset then stall", time.Since(start), nil}
			case <-bound.C:
				results <- result{"hard reset then stall", time.Since(start), fmt.Errorf("still open")}
			}
		}()
	}
	opened := time.Since(start)
	if !waitFor(hw/2, func() bool { return len(l.srv.Connections()) == perKind }) {
		t.Errorf("%d sessions during the flood, want %d (one per hard reset; none for the others)", len(l.srv.Connections()), perKind)
	}
	during := takeSnapshot(t)
	// A real client is not held up by the flood.
	realTook, err := tcpConnect(ctx, l.client)
	if err != nil {
		t.Errorf("real client during the flood: %v", err)
	}
	realDone := time.Since(start)
	wg.Wait()
	close(results)
	first := map[string]time.Duration{}
	last := map[string]time.Duration{}
	count := map[string]int{}
	for r := range results {
		if r.err != nil {
			count[r.kind+" (still open)"]++
			continue
		}
		count[r.kind]++
		if f, ok := first[r.kind]; !ok || r.took < f {
			first[r.kind] = r.took
		}
		last[r.kind] = max(last[r.kind], r.took)
	}
	var names []string
	for k := range count {
		names = append(names, k)
	}
	slices.Sort(names)
	var summary []string
	for _, k := range names {
		if strings.HasSuffix(k, "(still open)") {
			t.Errorf("%d connections %s %s after the flood started (hand-window %s)", count[k], k, hw+slack, hw)
			summary = append(summary, fmt.Sprintf("%s: %d", k, count[k]))
			continue
		}
		summary = append(summary, fmt.Sprintf("%s: %d closed %s-%s", k, count[k], first[k].Round(10*time.Millisecond), last[k].Round(10*time.Millisecond)))
	}
	if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
		t.Errorf("sessions left: %d", len(l.srv.Connections()))
	}
	l.failedEntries(t, perKind) // end entries follow the table
	failed, ok := 0, 0
	for _, e := range l.entries(t) {
		switch e.AttemptStatus {
		case connlog.StatusFailed:
			failed++
			if e.FailureReason != "tls-key-negotiation-timed-out" {
				t.Errorf("stalled reset logged with reason %q", e.FailureReason)
			}
		case connlog.StatusSuccessful:
			ok++
		}
	}
	if failed != perKind {
		t.Errorf("%d failed connection-log entries, want %d (one per stalled reset)", failed, perKind)
	}
	if v := l.metric(t, "AuthenticationFailures"); v != failuresBefore+perKind {
		t.Errorf("AuthenticationFailures %v -> %v, want +%d", failuresBefore, v, perKind)
	}
	if v := l.metric(t, "ActiveConnectionsCount"); v != 0 {
		t.Errorf("ActiveConnectionsCount %v", v)
	}
	for _, c := range raw {
		c.Close()
	}
	for _, c := range resets {
		c.Close()
	}
	g, after := released(t, before, 2)
	t.Logf("%d connections opened in %s (hand-window %s); real client connected in %s (done %s after the flood began); %s",
		perKind*(len(kinds)+1), opened.Round(time.Millisecond), hw, realTook.Round(time.Millisecond), realDone.Round(time.Millisecond), strings.Join(summary, "; "))
	t.Logf("goroutines %d -> %d during (client and server sides) -> %d after; fds %d -> %d -> %d; heap %.1f -> %.1f -> %.1f MiB; log entries: %d failed, %d successful",
		before.goroutines, during.goroutines, g, before.fds, during.fds, after.fds, mib(before.heap), mib(during.heap), mib(after.heap), failed, ok)
}

// TestTCPIdleConnectionsHoldLittleMemory: the server does not cap how many
// TCP connections wait for their first packet (each is held until the
// hand-window, 60 s by default), so what one costs is what an attacker
// with one address can make it hold: 1,000 silent connections must cost
// the server less than 32 KiB of heap each.
func TestTCPIdleConnectionsHoldLittleMemory(t *testing.T) {
	const n, perConn = 1000, 32 << 10
	l := startTCPLab(t, labOpts{handWindow: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := tcpConnect(ctx, l.client); err != nil {
		t.Fatalf("warm-up client: %v", err)
	}
	before := takeSnapshot(t)
	conns := dialTCP(t, l.client.Server.String(), n)
	// Each accepted connection has a server goroutine.
	if !waitFor(5*time.Second, func() bool { return runtimeGoroutines() >= before.goroutines+n }) {
		t.Fatalf("%d goroutines after %d connections (baseline %d): not all accepted", runtimeGoroutines(), n, before.goroutines)
	}
	during := takeSnapshot(t)
	grown := int64(during.heap) - int64(before.heap)
	t.Logf("%d silent TCP connections: heap %.1f -> %.1f MiB (%.1f KiB each), goroutines %d -> %d, fds %d -> %d",
		n, mib(before.heap), mib(during.heap), float64(grown)/1024/n, before.goroutines, during.goroutines, before.fds, during.fds)
	if grown > n*perConn {
		t.Errorf("%d connections that sent nothing hold %.1f MiB of heap (%.0f KiB each, limit %d KiB): the stream buffers are allocated before the first packet",
			n, float64(grown)/(1<<20), float64(grown)/1024/n, perConn>>10)
	}
	for _, c := range conns {
		c.Close()
	}
	if g := settle(before.goroutines+2, 5*time.Second); g > before.goroutines+2 {
		t.Errorf("goroutines %d before, %d after closing the connections", before.goroutines, g)
	}
}
