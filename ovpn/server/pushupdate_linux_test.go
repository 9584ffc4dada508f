package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/server"
)

// activeConnection returns the id of the one active connection.
func activeConnection(t *testing.T, ls *labServer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := server.AdminCall(ctx, filepath.Join(ls.dir, labAdminSocket), server.AdminRequest{Command: "connections"})
	if err != nil || len(resp.Connections) != 1 {
		t.Fatalf("connections: %v %+v", err, resp)
	}
	return resp.Connections[0].ID
}

// pushUpdate runs `cvpn server push-update` and returns its output.
func pushUpdate(t *testing.T, ls *labServer, args ...string) (string, error) {
	t.Helper()
	argv := append([]string{"server", "push-update", "--config", ls.cfg}, args...)
	out, err := exec.Command(cvpnBinary(t), argv...).CombinedOutput()
	return string(out), err
}

// TestPushUpdateOurPair: `cvpn server push-update` changes a live cvpn
// client: a new route is installed and traffic flows through it, the
// replaced one is gone, route enforcement follows; a new dns option
// (preferred over dhcp-option) is written to the namespace's resolv.conf;
// redirect-gateway def1 sends traffic to an outside host through the
// tunnel (with a host route keeping the server outside) and its removal
// takes that away again; block-ipv6 sends IPv6 into the tunnel; tun-mtu
// changes the device's MTU, ifconfig its address; keepalive is
// taken; a topology change is refused with an event. Options no
// PUSH_UPDATE may change, a removal with arguments and an unknown
// connection are refused by the command. After disconnecting the client
// namespace is as before, resolv.conf byte for byte.
func TestPushUpdateOurPair(t *testing.T) {
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: true, enforce: true,
		prepareLab: func(t *testing.T, lab *nstest.Lab, dir string) {
			nstest.MustRun(t, lab.Server, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
			nstest.MustRun(t, lab.Server, "ip", "addr", "add", "203.0.113.9/32", "dev", "lo")
		}})
	before := nstest.MustSnapshot(t, ls.lab.Client)
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	tip := cl.waitConnected(t)
	id := activeConnection(t, ls)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	update := func(wait string, opts ...string) {
		t.Helper()
		if out, err := pushUpdate(t, ls, append([]string{id, "--"}, opts...)...); err != nil {
			t.Fatalf("push-update %q: %v\n%s", opts, err, out)
		}
		if err := cl.proc.WaitFor(ctx, wait); err != nil {
			t.Fatalf("push-update %q: no event %q: %v", opts, wait, err)
		}
	}
	update("the server updated the routes: 1 added, 1 removed", "route 192.0.2.0 255.255.255.0", "?dns server 0 address 192.0.2.53", "dhcp-option DNS 198.19.0.53")
	rt := nstest.MustRun(t, ls.lab.Client, "ip", "route")
	if !strings.Contains(rt, "192.0.2.0/24 dev") || strings.Contains(rt, "198.19.0.0/24") {
		t.Fatalf("client routes after the update (want 192.0.2.0/24 through the tunnel, 198.19.0.0/24 gone):\n%s", rt)
	}
	if err := nstest.Ping(ctx, ls.lab.Client, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatalf("ping through the updated route: %v", err)
	}
	if err := cl.proc.WaitFor(ctx, "the server updated DNS: servers 192.0.2.53"); err != nil {
		t.Fatalf("no DNS update event: %v", err)
	}
	if rc, _ := os.ReadFile(nstest.ResolvConfPath(ls.lab.Client)); !strings.Contains(string(rc), "nameserver 192.0.2.53\n") || strings.Contains(string(rc), "198.19.0.53") {
		t.Errorf("resolv.conf after the dns update (want the dns option's server, not the dhcp-option one):\n%s", rc)
	}
	// Route enforcement follows: a route stealing part of the new VPN route
	// is removed.
	nstest.MustRun(t, ls.lab.Client, "ip", "route", "add", "192.0.2.128/25", "via", nstest.ServerIP.String())
	if err := cl.proc.WaitFor(ctx, "192.0.2.128/25"); err != nil || !strings.Contains(cl.proc.Output(), `"event":"route-enforced"`) {
		t.Errorf("route enforcement did not follow the update: %v", err)
	}

	// redirect-gateway def1: an outside host is reached through the tunnel.
	outside := netip.MustParseAddr("203.0.113.9")
	if out, err := nstest.Run(ctx, ls.lab.Client, "ip", "route", "get", outside.String()); err == nil {
		t.Fatalf("the client reaches %s before redirect-gateway:\n%s", outside, out)
	}
	update("the server updated the routes: 3 added, 0 removed", "redirect-gateway def1")
	if out := nstest.MustRun(t, ls.lab.Client, "ip", "route", "get", outside.String()); !strings.Contains(out, "dev cvpn") {
		t.Errorf("route to %s after redirect-gateway def1 is not through the tunnel: %s", outside, out)
	}
	if out := nstest.MustRun(t, ls.lab.Client, "ip", "route", "get", nstest.ServerIP.String()); strings.Contains(out, "dev cvpn") {
		t.Errorf("the server is routed into the tunnel: %s", out)
	}
	if err := nstest.Ping(ctx, ls.lab.Client, outside); err != nil {
		t.Errorf("ping %s through the full tunnel: %v", outside, err)
	}
	update("the server updated the routes: 0 added, 3 removed", "-redirect-gateway")
	if out, err := nstest.Run(ctx, ls.lab.Client, "ip", "route", "get", outside.String()); err == nil {
		t.Errorf("the client still routes %s after redirect-gateway was removed:\n%s", outside, out)
	}
	if err := nstest.Ping(ctx, ls.lab.Client, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("ping through the split route after the full tunnel: %v", err)
	}

	// block-ipv6: IPv6 goes into the tunnel (where the server drops it)
	// instead of leaking.
	update("the server updated the routes: 4 added, 0 removed", "block-ipv6")
	if out := nstest.MustRun(t, ls.lab.Client, "ip", "-6", "route", "get", "2001:db8::1"); !strings.Contains(out, "dev cvpn") {
		t.Errorf("IPv6 route after block-ipv6 is not into the tunnel: %s", out)
	}
	update("the server updated the routes: 0 added, 4 removed", "-block-ipv6")

	// tun-mtu and keepalive.
	update("the server changed the tunnel MTU to 1400", "tun-mtu 1400")
	if out := nstest.MustRun(t, ls.lab.Client, "ip", "-o", "link", "show"); !regexp.MustCompile(`cvpn\d+: .*mtu 1400 `).MatchString(out) {
		t.Errorf("tunnel device MTU after tun-mtu 1400:\n%s", out)
	}
	// ifconfig: the address changes on the device, and back.
	update("the server changed the tunnel addresses to 10.100.3.200/22", "ifconfig 10.100.3.200 255.255.252.0")
	if out := nstest.MustRun(t, ls.lab.Client, "ip", "-o", "-4", "addr", "show"); !strings.Contains(out, "inet 10.100.3.200/22") || strings.Contains(out, "inet "+tip.String()+"/") {
		t.Errorf("tunnel addresses after ifconfig 10.100.3.200 (want it instead of %s):\n%s", tip, out)
	}
	update("the server changed the tunnel addresses to "+tip.String()+"/22", "ifconfig "+tip.String()+" 255.255.252.0")
	update("the server changed the keepalive: ping 3 s, ping-restart 30 s", "keepalive 3 30")
	update("refused the server's update: it changes the topology from subnet to net30", "topology net30")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{id, "cipher AES-128-GCM"}, "cannot be changed on a live session"},
		{[]string{id, "--", "-dns 1.2.3.4"}, "takes no arguments"},
		{[]string{"cvpn-connection-nope", "route 192.0.2.0 255.255.255.0"}, `no connection "cvpn-connection-nope"`},
	} {
		out, err := pushUpdate(t, ls, tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("push-update %q: %v\n%s\nwant an error with %q", tc.args, err, out, tc.want)
		}
	}
	if err := nstest.Ping(ctx, ls.lab.Client, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("ping after all updates: %v", err)
	}
	cl.disconnect(t)
	// Enforcement put our stealing route back at disconnect; it is ours.
	nstest.MustRun(t, ls.lab.Client, "ip", "route", "del", "192.0.2.128/25")
	nstest.AssertUnchanged(t, before)
}

// TestPushUpdateDuringRenegotiation: the server renegotiates every 2 s and
// `cvpn server push-update` runs right as a renegotiation starts (0, 20 or
// 40 ms after it), five times: the cvpn client applies every update (the new
// route replaces the one before and carries a ping to an address only it
// reaches), whichever key's TLS session the update travels on.
func TestPushUpdateDuringRenegotiation(t *testing.T) {
	const updates = 5
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: true, top: "reneg_sec = 2\n",
		prepareLab: func(t *testing.T, lab *nstest.Lab, dir string) {
			for i := range updates {
				nstest.MustRun(t, lab.Server, "ip", "addr", "add", fmt.Sprintf("192.0.2.%d/32", 16*(i+1)+1), "dev", "lo")
			}
		}})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	id := activeConnection(t, ls)
	for i := range updates {
		net4 := fmt.Sprintf("192.0.2.%d", 16*(i+1))
		starts := strings.Count(ls.proc.Output(), "msg=renegotiating")
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(ls.proc.Output(), "msg=renegotiating") == starts {
			if time.Now().After(deadline) {
				t.Fatalf("update %d: no renegotiation in 10 s\n%s", i, ls.proc.Output())
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(i%3) * 20 * time.Millisecond)
		sent := time.Now()
		if out, err := pushUpdate(t, ls, id, "route "+net4+" 255.255.255.240"); err != nil {
			t.Fatalf("update %d: push-update: %v\n%s", i, err, out)
		}
		for strings.Count(cl.proc.Output(), "the server updated the routes") <= i {
			if time.Since(sent) > 15*time.Second {
				t.Fatalf("update %d (during renegotiation %d) never applied:\n%s\nserver:\n%s", i, starts+1, cl.proc.Output(), ls.proc.Output())
			}
			time.Sleep(10 * time.Millisecond)
		}
		applied := time.Since(sent)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := nstest.Ping(ctx, ls.lab.Client, netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", 16*(i+1)+1)))
		cancel()
		if err != nil {
			t.Fatalf("update %d: ping through the pushed route %s/28: %v\n%s", i, net4, err, nstest.MustRun(t, ls.lab.Client, "ip", "route"))
		}
		t.Logf("update %d applied %s after push-update started, during renegotiation %d", i, applied.Round(time.Millisecond), starts+1)
	}
	if n := strings.Count(cl.proc.Output(), "the server updated the routes: 1 added, 1 removed"); n != updates {
		t.Errorf("%d updates replaced the route before, want %d:\n%s", n, updates, cl.proc.Output())
	}
	cl.disconnect(t)
}
