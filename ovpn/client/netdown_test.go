package client

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// TestWaitRetryWaitsForTheNetwork: with a network monitor and no route to
// the server, the client does not spin through attempts: it waits for the
// monitor (however short the backoff), re-checks on each change, and
// retries at once when the network is back.
func TestWaitRetryWaitsForTheNetwork(t *testing.T) {
	changes := make(chan NetChange)
	var events []clientapi.Event
	c := &Client{cfg: Config{NetChanges: changes, Events: func(e clientapi.Event) { events = append(events, e) }}}
	var up atomic.Bool
	c.sourceFor = func(netip.AddrPort) (netip.Addr, error) {
		if up.Load() {
			return netip.MustParseAddr("198.18.0.3"), nil
		}
		return netip.Addr{}, errors.New("network is unreachable")
	}
	server := netip.MustParseAddrPort("198.18.0.2:1194")
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); c.waitRetry(context.Background(), time.Millisecond, server) }()
	select {
	case <-done:
		t.Fatal("waitRetry returned while the network is down (a 1 ms backoff must not spin)")
	case <-time.After(300 * time.Millisecond):
	}
	changes <- NetChange{Link: true, Detail: "eth0 up, no address yet"} // still down
	select {
	case <-done:
		t.Fatal("waitRetry returned after a change that left the network down")
	case <-time.After(100 * time.Millisecond):
	}
	up.Store(true)
	changes <- NetChange{Address: true, DefaultRoute: true, Detail: "wlan0 10.77.0.20"}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("waitRetry did not return when the network came back")
	}
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Errorf("waitRetry returned after %s", waited)
	}
	var detail []string
	for _, e := range events {
		if e.Event == clientapi.EventNetworkChanged || e.State == clientapi.StateReconnecting {
			detail = append(detail, e.Event+":"+e.Detail)
		}
	}
	if len(detail) < 3 || detail[0] != "state:waiting for the network" {
		t.Errorf("events %v, want waiting for the network then the two changes", detail)
	}
	for _, d := range detail {
		if d == "state:retrying in 1ms" {
			t.Errorf("a backoff timer ran although the network came back: %v", detail)
		}
	}
}
