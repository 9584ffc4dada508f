package server_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// pingUntil pings the server's tunnel address from the client namespace
// until one answers (bounded) and returns how long that took.
func pingUntil(t *testing.T, lab *nstest.Lab, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := nstest.Run(ctx, lab.Client, "ping", "-c", "1", "-W", "0.3", serverTunnelIP.String())
		cancel()
		if err == nil {
			return time.Since(start)
		}
	}
	t.Fatalf("no ping answer through the tunnel within %s", within)
	return 0
}

// TestClientComesBackAfterSIGSTOP: a client that did not run for a while
// (SIGSTOP/SIGCONT, like a laptop asleep) comes back by itself. A short
// stop keeps the session (the client notices the gap, probes and the
// server answers: no reconnect); a stop longer than ping-restart, after
// which the server has dropped the session, reconnects at once.
func TestClientComesBackAfterSIGSTOP(t *testing.T) {
	nstest.RequireBinaries(t, "ping")
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: true, top: "ping = 2\nping_restart = 6\n"})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	pingUntil(t, ls.lab, 10*time.Second)
	connected := func() int { return strings.Count(cl.proc.Output(), `"state":"connected"`) }

	stop := func(d time.Duration) {
		t.Helper()
		if err := cl.proc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		if err := cl.proc.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
	}
	waitOutput := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cl.proc.WaitFor(ctx, what); err != nil {
			t.Fatalf("no %s after SIGCONT: %v", what, err)
		}
	}

	stop(4 * time.Second) // longer than the 3 s gap check, shorter than ping-restart
	took := pingUntil(t, ls.lab, 10*time.Second)
	waitOutput(`"event":"resumed"`)
	t.Logf("short stop (4 s): traffic flowed %s after SIGCONT", took.Round(time.Millisecond))
	if n := connected(); n != 1 {
		t.Errorf("the client reconnected after a short stop (%d connected events)", n)
	}

	stop(13 * time.Second) // the server drops the session after 2 x ping_restart = 12 s
	took = pingUntil(t, ls.lab, 15*time.Second)
	t.Logf("long stop (13 s): traffic flowed %s after SIGCONT", took.Round(time.Millisecond))
	if n := connected(); n != 2 {
		t.Errorf("%d connected events after a long stop, want 2 (one reconnect)", n)
	}
	if strings.Contains(cl.proc.Output(), "retrying in") {
		t.Errorf("the client waited for a backoff instead of reconnecting at once")
	}
	cl.disconnect(t)
}

// moveClientAddress moves the client namespace's link address from
// 198.18.0.1 to to (the new one first, then the old one goes; the kernel
// promotes the new one and keeps the link's route).
func moveClientAddress(t *testing.T, lab *nstest.Lab, to string) {
	t.Helper()
	for _, argv := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv4.conf.all.promote_secondaries=1", "net.ipv4.conf." + nstest.ClientDev + ".promote_secondaries=1"},
		{"ip", "addr", "add", to + "/24", "dev", nstest.ClientDev},
		{"ip", "addr", "del", nstest.ClientIP.String() + "/24", "dev", nstest.ClientDev},
	} {
		nstest.MustRun(t, lab.Client, argv...)
	}
}

// TestClientAddressMoveFloats: the client's address changes from
// 198.18.0.1 to 198.18.0.3 while connected over UDP (the case of issue 19,
// which used to cost 61.9 s of ping-restart). The client notices at its
// next send, moves its socket to the new address, and the server floats
// the session by peer-id: the same connection carries traffic again, now
// from the new address.
func TestClientAddressMoveFloats(t *testing.T) {
	nstest.RequireBinaries(t, "ping")
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: true})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	pingUntil(t, ls.lab, 10*time.Second)
	before := listConnections(t, ls)
	if len(before) != 1 || !strings.HasPrefix(fmt.Sprint(before[0]["endpoint"]), nstest.ClientIP.String()+":") {
		t.Fatalf("connections before the move: %+v", before)
	}

	start := time.Now()
	moveClientAddress(t, ls.lab, "198.18.0.3")
	pingUntil(t, ls.lab, 10*time.Second)
	t.Logf("traffic flowed again %s after the address moved (float; goal < 1 s)", time.Since(start).Round(time.Millisecond))
	after := listConnections(t, ls)
	if len(after) != 1 || after[0]["connection-id"] != before[0]["connection-id"] || !strings.HasPrefix(fmt.Sprint(after[0]["endpoint"]), "198.18.0.3:") {
		t.Errorf("connections after the move: %v, want connection %v at 198.18.0.3", after, before[0]["connection-id"])
	}
	if m := fetchMetrics(t, ls); !strings.Contains(m, "ClientAddressChanges{") || strings.Contains(m, "ClientAddressChanges{endpoint=\"cvpn-endpoint-test\"} 0") {
		t.Errorf("metrics do not count the float")
	}
	if n := strings.Count(cl.proc.Output(), `"state":"connected"`); n != 1 {
		t.Errorf("%d connected events: the client reconnected instead of floating", n)
	}
	if !strings.Contains(cl.proc.Output(), `"event":"network-changed"`) {
		t.Errorf("no network-changed event")
	}
	cl.disconnect(t)
}

// TestClientFollowsNetworkMonitor: with no traffic at all, the client's
// network monitor (platform/netmon) reports the address move and the
// client moves its session at once: the server lists the connection at
// the new address before anything is sent through the tunnel.
func TestClientFollowsNetworkMonitor(t *testing.T) {
	for _, split := range []bool{true, false} {
		t.Run(map[bool]string{true: "split-tunnel", false: "full-tunnel"}[split], func(t *testing.T) { followsNetworkMonitor(t, split) })
	}
}

func followsNetworkMonitor(t *testing.T, split bool) {
	nstest.RequireBinaries(t, "ping")
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: split})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	before := listConnections(t, ls)
	if len(before) != 1 {
		t.Fatalf("connections before the move: %v", before)
	}
	// The tunnel's own set-up (its device, addresses, routes) is no
	// network change.
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(cl.proc.Output(), `"event":"network-changed"`) {
		t.Errorf("network-changed reported for the tunnel's own set-up:\n%s", cl.proc.Output())
	}
	start := time.Now()
	moveClientAddress(t, ls.lab, "198.18.0.3")
	var after []map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		after = listConnections(t, ls)
		if len(after) == 1 && strings.HasPrefix(fmt.Sprint(after[0]["endpoint"]), "198.18.0.3:") {
			break
		}
	}
	took := time.Since(start)
	if len(after) != 1 || after[0]["connection-id"] != before[0]["connection-id"] || !strings.HasPrefix(fmt.Sprint(after[0]["endpoint"]), "198.18.0.3:") {
		t.Fatalf("connections after the move (no traffic sent): %v, want connection %v at 198.18.0.3", after, before[0]["connection-id"])
	}
	t.Logf("the server saw the session at the new address %s after the move (network monitor, no traffic)", took.Round(time.Millisecond))
	out := cl.proc.Output()
	if !strings.Contains(out, `"event":"network-changed"`) || strings.Contains(out, `"detail":"sending failed`) {
		t.Errorf("want a network-changed event from the monitor (not from a failed send):\n%s", out)
	}
	pingUntil(t, ls.lab, 5*time.Second)
	if n := strings.Count(cl.proc.Output(), `"state":"connected"`); n != 1 {
		t.Errorf("%d connected events: the client reconnected instead of floating", n)
	}
	cl.disconnect(t)
}
