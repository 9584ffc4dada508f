package client_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// pingTunnel pings addr through the tunnel device only (ping -I: a ping
// may not be answered by the server namespace outside the tunnel while
// the client reconnects) until one answers, bounded; it returns how long
// that took.
func pingTunnel(t *testing.T, lab *nstest.Lab, dev string, addr netip.Addr, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := nstest.Run(ctx, lab.Client, "ping", "-c", "1", "-W", "0.1", "-I", dev, addr.String())
		cancel()
		if err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond) // no device yet: ping fails at once
	}
	t.Fatalf("no ping answer from %s through %s within %s", addr, dev, within)
	return 0
}

// tunnelDev reads the tunnel device from the connected event.
func tunnelDev(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, `"interface":"`)
	if i < 0 {
		t.Fatalf("no interface in:\n%s", out)
	}
	rest := out[i+len(`"interface":"`):]
	return rest[:strings.Index(rest, `"`)]
}

// serverRoute is the client's route to the server's public address.
func serverRoute(t *testing.T, lab *nstest.Lab) string {
	t.Helper()
	return strings.TrimSpace(nstest.MustRun(t, lab.Client, "ip", "-4", "route", "show", nstest.UplinkServerIP.String()+"/32"))
}

// uplinkServerUnder is one server of TestInteropDefaultRouteSwap: a
// client profile for it and its tunnel address.
type uplinkServerUnder struct {
	prof     string
	tunnelIP netip.Addr
	log      func() string
}

// startOurUplinkServer runs cvpn server (cvpn server init's lab, full
// tunnel: it pushes redirect-gateway def1) on the server's public address,
// port 1195.
func startOurUplinkServer(t *testing.T, bin string, lab *nstest.Lab, proto string) uplinkServerUnder {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "srv")
	nstest.MustRun(t, lab.Server, bin, "server", "init", dir, "--public-address", nstest.UplinkServerIP.String(), "--listen", nstest.UplinkServerIP.String()+":1195")
	cfg := filepath.Join(dir, "server.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range [][2]string{
		{`transport = "udp"`, fmt.Sprintf("transport = %q", proto)},
		{`socket = "admin.sock"`, `socket = ""`},
		{`path = "connections.log"`, `path = ""`},
	} {
		if !strings.Contains(doc, r[0]) {
			t.Fatalf("generated server.toml has no %s", r[0])
		}
		doc = strings.Replace(doc, r[0], r[1], 1)
	}
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	p := nstest.Start(t, lab.Server, bin, "server", "run", "--config", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("cvpn server did not start: %v\n%s", err, p.Output())
	}
	prof, err := os.ReadFile(filepath.Join(dir, "client1.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(prof), "\nproto udp\n") {
		t.Fatalf("client1.ovpn has no proto udp line:\n%s", prof)
	}
	prof = []byte(strings.Replace(string(prof), "\nproto udp\n", "\nproto "+proto+"\n", 1))
	return uplinkServerUnder{prof: string(prof), tunnelIP: netip.MustParseAddr("10.100.0.1"), log: p.Output}
}

// TestInteropDefaultRouteSwap: a full-tunnel client (the real cvpn
// process) connected over uplink 1 to OpenVPN 2.6 or to our server; the
// default route moves to uplink 2 and uplink 1 stops carrying the
// server's answers (its upstream is gone). The client must move its host
// route to the server to the new gateway and carry traffic again: over UDP
// by floating the session (or a reconnect), over TCP by a reconnect. After
// the disconnect no route of cvpn is left. Figures are logged; their goals
// (float < 1 s, reconnect < 2 s) belong to the bench.
func TestInteropDefaultRouteSwap(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	bin := cvpnBinary(t)
	for _, server := range []string{"openvpn2.6", "cvpn"} {
		for _, proto := range []string{"udp", "tcp"} {
			t.Run(server+"/"+proto, func(t *testing.T) {
				lab := nstest.New(t, nstest.Options{})
				nstest.AddUplink(t, lab)
				before := nstest.MustSnapshot(t, lab.Client)
				var su uplinkServerUnder
				if server == "cvpn" {
					su = startOurUplinkServer(t, bin, lab, proto)
				} else {
					srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.UplinkServerIP, Proto: proto,
						Wrap: openvpnpeer.WrapTLSCrypt, NoIPv6: true, Push: []string{"redirect-gateway def1"}})
					prof, err := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
					if err != nil {
						t.Fatal(err)
					}
					su = uplinkServerUnder{prof: prof, tunnelIP: srv.TunnelIP(), log: srv.Log}
				}
				took, reconnects := swapUplink(t, bin, lab, su, before)
				how := "float"
				if reconnects > 0 {
					how = "reconnect"
				}
				t.Logf("%s %s: traffic through the tunnel %s after the default route swap (%s, %d reconnects; pings every 100 ms; goals: float < 1 s, reconnect < 2 s)",
					server, proto, took.Round(time.Millisecond), how, reconnects)
				if proto == "tcp" && reconnects < 1 {
					t.Errorf("TCP traffic flows again without a reconnect")
				}
			})
		}
	}
}

// swapUplink connects the real client with su's profile over uplink 1,
// swaps the default route to uplink 2, cuts uplink 1's upstream and
// returns how long until traffic flowed again and how many reconnects it
// took; it checks the server's host route and disconnects.
func swapUplink(t *testing.T, bin string, lab *nstest.Lab, su uplinkServerUnder, before nstest.NSState) (time.Duration, int) {
	t.Helper()
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(su.prof), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := nstest.Start(t, lab.Client, "env", "CVPN_HOME="+home, bin, "connect", pf, "--json")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := cl.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("cvpn did not connect: %v\n%s\nserver log:\n%s", err, cl.Output(), su.log())
	}
	dev := tunnelDev(t, cl.Output())
	pingTunnel(t, lab, dev, su.tunnelIP, 10*time.Second)
	if r := serverRoute(t, lab); !strings.Contains(r, "via "+nstest.ServerIP.String()+" dev "+nstest.ClientDev) {
		t.Fatalf("host route to the server before the swap: %q, want via %s", r, nstest.ServerIP)
	}
	start := time.Now()
	nstest.MustRun(t, lab.Client, "ip", "route", "replace", "default", "via", nstest.Uplink2GW.String(), "dev", nstest.Uplink2Dev)
	// Uplink 1 loses its upstream: the server's answers to the client's
	// old address go nowhere.
	nstest.MustRun(t, lab.Server, "ip", "route", "add", "blackhole", nstest.ClientIP.String()+"/32")
	pingTunnel(t, lab, dev, su.tunnelIP, 15*time.Second)
	took := time.Since(start)
	out := cl.Output()
	reconnects := strings.Count(out, `"state":"connected"`) - 1
	if !strings.Contains(out, `"event":"network-changed"`) {
		t.Errorf("no network-changed event:\n%s", out)
	}
	if r := serverRoute(t, lab); !strings.Contains(r, "via "+nstest.Uplink2GW.String()+" dev "+nstest.Uplink2Dev) {
		t.Errorf("host route to the server after the swap: %q, want via %s dev %s", r, nstest.Uplink2GW, nstest.Uplink2Dev)
	}
	if err := cl.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Done():
	case <-ctx.Done():
		t.Fatalf("cvpn did not exit after SIGTERM:\n%s", cl.Output())
	}
	if r := serverRoute(t, lab); r != "" {
		t.Errorf("host route to the server left after the disconnect: %q", r)
	}
	nstest.MustRun(t, lab.Server, "ip", "route", "del", "blackhole", nstest.ClientIP.String()+"/32")
	nstest.MustRun(t, lab.Client, "ip", "route", "replace", "default", "via", nstest.ServerIP.String(), "dev", nstest.ClientDev)
	nstest.AssertUnchanged(t, before)
	return took, reconnects
}
