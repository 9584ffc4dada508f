package faultnet_test

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/faultnet"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// pingRecovery pings the server's tunnel address until it answers and
// returns how long that took.
func pingRecovery(ctx context.Context, t *testing.T, f *faultLab, cl *nstest.Proc, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := nstest.Run(ctx, f.lab.Client, "ping", "-n", "-q", "-c", "1", "-W", "1", f.srv.TunnelIP().String())
		if err == nil {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no ping through the tunnel after %s: %v\ncvpn:\n%s\nserver:\n%s", what, ctx.Err(), cl.Output(), f.srv.Log())
		case <-cl.Done():
			t.Fatalf("cvpn exited (%s) after %s:\n%s", cl.ExitStatus(), what, cl.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestFaultsLinkDownUpAndAddressChange takes the client's link down for
// 3 s, then moves the client to a new address; each time the tunnel must
// carry traffic again by itself. The namespace is as before at the end.
func TestFaultsLinkDownUpAndAddressChange(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			cfg := openvpnpeer.ServerConfig{Proto: proto, Wrap: openvpnpeer.WrapTLSCrypt, Keepalive: [2]int{1, 5}}
			f := newFaultLab(t, cfg, faultnet.Impairment{}, faultnet.Impairment{})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cl := f.connect(t)
			waitEvents(ctx, t, cl, `"state":"connected"`, 1)
			pingRecovery(ctx, t, f, cl, "connecting")

			// Without this the kernel flushes fd18::1 on link down (not cvpn's doing).
			nstest.MustRun(t, f.lab.Client, "sysctl", "-q", "-w", "net.ipv6.conf."+nstest.ClientDev+".keep_addr_on_down=1")
			nstest.MustRun(t, f.lab.Client, "ip", "link", "set", "dev", nstest.ClientDev, "down")
			time.Sleep(3 * time.Second)
			nstest.MustRun(t, f.lab.Client, "ip", "link", "set", "dev", nstest.ClientDev, "up")
			d := pingRecovery(ctx, t, f, cl, "link down/up")
			t.Logf("FIGURE %s: tunnel carried traffic %s after the link came back (3 s outage); reconnects: %d",
				proto, d.Round(time.Millisecond), strings.Count(cl.Output(), `"state":"reconnecting"`))
			res, err := nstest.Transfer(ctx, f.lab.Client, f.lab.Server, f.srv.TunnelIP(), 2<<20)
			if err != nil || !res.OK() {
				t.Fatalf("transfer after link down/up: %v %s\n%s", err, res, cl.Output())
			}

			newIP := netip.MustParseAddr("198.18.0.11")
			connected := strings.Count(cl.Output(), `"state":"connected"`)
			nstest.MustRun(t, f.lab.Client, "ip", "addr", "del", nstest.ClientIP.String()+"/24", "dev", nstest.ClientDev)
			nstest.MustRun(t, f.lab.Client, "ip", "addr", "add", newIP.String()+"/24", "dev", nstest.ClientDev)
			changed := time.Now()
			// Over UDP the client keeps the session and floats it to the
			// new address (the server follows the authenticated peer-id);
			// over TCP the connection is gone and it reconnects at once.
			if proto == "tcp" {
				waitEvents(ctx, t, cl, `"state":"connected"`, connected+1)
			}
			pingRecovery(ctx, t, f, cl, "the address change")
			t.Logf("FIGURE %s: carried traffic %s after the address change; new connections: %d",
				proto, time.Since(changed).Round(time.Millisecond), strings.Count(cl.Output(), `"state":"connected"`)-connected)
			res, err = nstest.Transfer(ctx, f.lab.Client, f.lab.Server, f.srv.TunnelIP(), 2<<20)
			if err != nil || !res.OK() {
				t.Fatalf("transfer after the address change: %v %s\n%s", err, res, cl.Output())
			}
			if err := cl.Stop(15 * time.Second); err != nil {
				t.Fatal(err)
			}
			nstest.MustRun(t, f.lab.Client, "ip", "addr", "del", newIP.String()+"/24", "dev", nstest.ClientDev)
			nstest.MustRun(t, f.lab.Client, "ip", "addr", "add", nstest.ClientIP.String()+"/24", "dev", nstest.ClientDev)
			nstest.AssertUnchanged(t, f.before)
		})
	}
}

// TestFaultsKill9ThenRestart kills a connected cvpn with SIGKILL; the next
// `cvpn connect` (which cannot reach the server: the proxy is a blackhole)
// must remove the stale TUN, restore DNS and leave the routes exactly as
// before the first connection.
func TestFaultsKill9ThenRestart(t *testing.T) {
	cfg := openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt,
		PushDNS: []netip.Addr{netip.MustParseAddr("198.19.0.53")}, Push: []string{"redirect-gateway def1"}}
	f := newFaultLab(t, cfg, faultnet.Impairment{}, faultnet.Impairment{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := f.connect(t)
	waitEvents(ctx, t, cl, `"state":"connected"`, 1)
	if rc, _ := os.ReadFile(nstest.ResolvConfPath(f.lab.Client)); !strings.Contains(string(rc), "198.19.0.53") {
		t.Fatalf("pushed DNS not applied while connected:\n%s", rc)
	}
	if err := cl.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-cl.Done()
	stale := nstest.MustSnapshot(t, f.lab.Client)
	if sameState(stale, f.before) {
		t.Fatal("nothing was left behind by SIGKILL: the test proves nothing")
	}
	f.proxy.SetBlackhole(true)
	restart := time.Now()
	cl2 := f.connect(t)
	var clean time.Duration
	for {
		st, err := nstest.Snapshot(ctx, f.lab.Client)
		if err != nil {
			t.Fatal(err)
		}
		if sameState(st, f.before) {
			clean = time.Since(restart)
			break
		}
		select {
		case <-ctx.Done():
			nstest.AssertUnchanged(t, f.before)
			t.Fatalf("the restarted cvpn did not clean up:\n%s", cl2.Output())
		case <-cl2.Done():
			nstest.AssertUnchanged(t, f.before)
			t.Fatalf("the restarted cvpn exited (%s):\n%s", cl2.ExitStatus(), cl2.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("FIGURE: stale TUN, routes and DNS restored %s after the restart", clean.Round(time.Millisecond))
	// It stays clean while the restarted client keeps trying.
	time.Sleep(2 * time.Second)
	nstest.AssertUnchanged(t, f.before)
	if cl2.Exited() {
		t.Fatalf("the restarted cvpn gave up (%s):\n%s", cl2.ExitStatus(), cl2.Output())
	}
	if err := cl2.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	nstest.AssertUnchanged(t, f.before)
}

// sameState compares two snapshots section by section.
func sameState(a, b nstest.NSState) bool {
	if len(a.Sections) != len(b.Sections) {
		return false
	}
	for i := range a.Sections {
		if a.Sections[i] != b.Sections[i] {
			return false
		}
	}
	return true
}

// TestFaultsServerNewCertificate restarts the server with a different PKI;
// the client must refuse it, say the certificate is not trusted by the
// profile's CA, and never come up again.
func TestFaultsServerNewCertificate(t *testing.T) {
	cfg := openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapNone, Keepalive: [2]int{1, 4}}
	f := newFaultLab(t, cfg, faultnet.Impairment{}, faultnet.Impairment{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := f.connect(t)
	waitEvents(ctx, t, cl, `"state":"connected"`, 1)
	if err := f.srv.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-f.srv.Proc.Done()
	cfg2 := f.srv.Config
	cfg2.PKI = nil // StartServer generates a new CA and server certificate
	srv2 := openvpnpeer.StartServer(t, cfg2)
	killed := time.Now()
	const want = "is not trusted by the profile's CA"
	waitEvents(ctx, t, cl, want, 1)
	t.Logf("FIGURE: refused the new server certificate %s after the server was replaced", time.Since(killed).Round(time.Millisecond))
	out := cl.Output()
	if strings.Count(out, `"state":"connected"`) != 1 {
		t.Fatalf("connected to a server with an untrusted certificate:\n%s", out)
	}
	if !strings.Contains(out, `server certificate \"server\"`) {
		t.Errorf("the refusal does not name the certificate:\n%s", out)
	}
	if !strings.Contains(srv2.Log(), "TLS") {
		t.Logf("server log:\n%s", srv2.Log())
	}
	f.stop(t, cl)
}
