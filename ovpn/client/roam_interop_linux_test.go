package client_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// pingUntilAnswer pings addr from the client namespace until one answers
// (bounded) and returns how long that took.
func pingUntilAnswer(t *testing.T, lab *nstest.Lab, addr netip.Addr, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := nstest.Run(ctx, lab.Client, "ping", "-c", "1", "-W", "0.3", addr.String())
		cancel()
		if err == nil {
			return time.Since(start)
		}
	}
	t.Fatalf("no ping answer from %s through the tunnel within %s", addr, within)
	return 0
}

// TestInteropAddressMoveFloats: connected over UDP to OpenVPN 2.6, the
// client's address moves from 198.18.0.1 to 198.18.0.3. The client moves
// its socket and OpenVPN floats the session by peer-id: traffic flows
// again without a reconnect.
func TestInteropAddressMoveFloats(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	r := startInterop(t, interopCase{name: "float", server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt},
		profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}})
	pingUntilAnswer(t, r.lab, r.srv.TunnelIP(), 10*time.Second)
	start := time.Now()
	for _, argv := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv4.conf.all.promote_secondaries=1", "net.ipv4.conf." + nstest.ClientDev + ".promote_secondaries=1"},
		{"ip", "addr", "add", "198.18.0.3/24", "dev", nstest.ClientDev},
		{"ip", "addr", "del", nstest.ClientIP.String() + "/24", "dev", nstest.ClientDev},
	} {
		nstest.MustRun(t, r.lab.Client, argv...)
	}
	pingUntilAnswer(t, r.lab, r.srv.TunnelIP(), 10*time.Second)
	t.Logf("traffic flowed again %s after the address moved (OpenVPN 2.6 float; goal < 1 s)", time.Since(start).Round(time.Millisecond))
	out := r.cl.Output()
	if n := strings.Count(out, `"state":"connected"`); n != 1 {
		t.Errorf("%d connected events: the client reconnected instead of floating\nserver log:\n%s", n, r.srv.Log())
	}
	if !strings.Contains(out, `"event":"network-changed"`) {
		t.Errorf("no network-changed event")
	}
	// Moving the address back restores the lab as it was: disconnecting
	// must then leave the client namespace unchanged.
	for _, argv := range [][]string{
		{"ip", "addr", "add", nstest.ClientIP.String() + "/24", "dev", nstest.ClientDev},
		{"ip", "addr", "del", "198.18.0.3/24", "dev", nstest.ClientDev},
	} {
		nstest.MustRun(t, r.lab.Client, argv...)
	}
	pingUntilAnswer(t, r.lab, r.srv.TunnelIP(), 10*time.Second)
	if n := strings.Count(r.cl.Output(), `"state":"connected"`); n != 1 {
		t.Errorf("%d connected events after moving back", n)
	}
	r.stop(t)
}
