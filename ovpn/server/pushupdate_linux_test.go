package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
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

// TestPushUpdateOurPair: `cvpn server push-update` changes the routes of a
// live cvpn client: the new route is installed and traffic flows through
// it, the replaced one is gone, an update cvpn cannot apply live is named
// in an event; options no PUSH_UPDATE may change, a removal with arguments
// and an unknown connection are refused by the command; route enforcement
// follows the new routes. After disconnecting the client namespace is as
// before.
func TestPushUpdateOurPair(t *testing.T) {
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: true, enforce: true,
		prepareLab: func(t *testing.T, lab *nstest.Lab, dir string) {
			nstest.MustRun(t, lab.Server, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
		}})
	before := nstest.MustSnapshot(t, ls.lab.Client)
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	id := activeConnection(t, ls)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := pushUpdate(t, ls, id, "route 192.0.2.0 255.255.255.0", "?dns server 0 address 192.0.2.53", "dhcp-option DNS 192.0.2.53"); err != nil {
		t.Fatalf("push-update: %v\n%s", err, out)
	}
	if err := cl.proc.WaitFor(ctx, "the server updated the routes: 1 added, 1 removed"); err != nil {
		t.Fatalf("no route update event: %v", err)
	}
	rt := nstest.MustRun(t, ls.lab.Client, "ip", "route")
	if !strings.Contains(rt, "192.0.2.0/24 dev") || strings.Contains(rt, "198.19.0.0/24") {
		t.Fatalf("client routes after the update (want 192.0.2.0/24 through the tunnel, 198.19.0.0/24 gone):\n%s", rt)
	}
	if err := nstest.Ping(ctx, ls.lab.Client, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatalf("ping through the updated route: %v", err)
	}
	// Route enforcement follows: a route stealing part of the new VPN route
	// is removed.
	nstest.MustRun(t, ls.lab.Client, "ip", "route", "add", "192.0.2.128/25", "via", nstest.ServerIP.String())
	if err := cl.proc.WaitFor(ctx, "192.0.2.128/25"); err != nil || !strings.Contains(cl.proc.Output(), `"event":"route-enforced"`) {
		t.Errorf("route enforcement did not follow the update: %v", err)
	}
	if !strings.Contains(cl.proc.Output(), "cannot change on a live tunnel") || !strings.Contains(cl.proc.Output(), "dhcp-option DNS 192.0.2.53") {
		t.Errorf("no event naming the dhcp-option update cvpn cannot apply live")
	}
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
