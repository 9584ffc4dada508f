package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// uplinkMoves is how many default route swaps each server and transport
// gets (back and forth between the two uplinks).
const uplinkMoves = 6

// The two-uplink lab of nstest.AddUplink, indexed by uplink (0 and 1).
var (
	upGW   = [2]netip.Addr{nstest.ServerIP, nstest.Uplink2GW}
	upAddr = [2]netip.Addr{nstest.ClientIP, nstest.Uplink2ClientIP}
	upDev  = [2]string{nstest.ClientDev, nstest.Uplink2Dev}
)

// upCvpnServer runs cvpn server on the public address (port 1195, full
// tunnel) and returns its client profile.
func upCvpnServer(t *testing.T, bin string, lab *nstest.Lab, proto string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "srv")
	nstest.MustRun(t, lab.Server, bin, "server", "init", dir, "--public-address", nstest.UplinkServerIP.String(), "--listen", nstest.UplinkServerIP.String()+":1195")
	cfg := filepath.Join(dir, "server.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), `transport = "udp"`, fmt.Sprintf("transport = %q", proto), 1)
	doc = strings.Replace(doc, `socket = "admin.sock"`, `socket = ""`, 1)
	doc = strings.Replace(doc, `path = "connections.log"`, `path = ""`, 1)
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
	return strings.Replace(string(prof), "\nproto udp\n", "\nproto "+proto+"\n", 1)
}

// upPing pings addr through the tunnel device only (ping -I: the server
// namespace would answer its tunnel address outside the tunnel while the
// client reconnects) every 100 ms until one answers (bounded).
func upPing(t *testing.T, lab *nstest.Lab, dev string, addr netip.Addr, within time.Duration) {
	t.Helper()
	for start := time.Now(); time.Since(start) < within; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := nstest.Run(ctx, lab.Client, "ping", "-c", "1", "-W", "0.1", "-I", dev, addr.String())
		cancel()
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond) // no device yet: ping fails at once
	}
	t.Fatalf("no ping answer from %s through %s within %s", addr, dev, within)
}

// upTunnelDev reads the tunnel device from the connected event.
func upTunnelDev(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, `"interface":"`)
	if !ok {
		t.Fatalf("no interface in:\n%s", out)
	}
	dev, _, _ := strings.Cut(rest, `"`)
	return dev
}

// TestRoamUplinkBenchmark measures the time from the default route moving
// to the other uplink (the old one losing its upstream) to the first
// answered ping through a full tunnel, for our client against OpenVPN 2.6
// and our server over UDP (float) and TCP (reconnect).
func TestRoamUplinkBenchmark(t *testing.T) {
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("set CVPN_BENCH=1 (make bench) to run the uplink roaming benchmark")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	bin := buildCvpn(t)
	var rows []string
	for _, server := range []string{"OpenVPN 2.6 server", "cvpn server"} {
		for _, proto := range []string{"udp", "tcp"} {
			lab := nstest.New(t, nstest.Options{})
			nstest.AddUplink(t, lab)
			var prof string
			at := netip.MustParseAddr("10.100.0.1")
			if server == "cvpn server" {
				prof = upCvpnServer(t, bin, lab, proto)
			} else {
				srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.UplinkServerIP, Proto: proto,
					DataCiphers: []string{"AES-256-GCM"}, Wrap: openvpnpeer.WrapTLSCrypt, NoIPv6: true, Push: []string{"redirect-gateway def1"}})
				p, err := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
				if err != nil {
					t.Fatal(err)
				}
				prof, at = p, srv.TunnelIP()
			}
			c := startCvpn(t, bin, lab, prof).(*cvpnClient)
			dev := upTunnelDev(t, c.p.Output())
			upPing(t, lab, dev, at, 10*time.Second)
			var took []time.Duration
			for i := 0; i < uplinkMoves; i++ {
				from, to := i%2, (i+1)%2
				start := time.Now()
				nstest.MustRun(t, lab.Client, "ip", "route", "replace", "default", "via", upGW[to].String(), "dev", upDev[to])
				nstest.MustRun(t, lab.Server, "ip", "route", "replace", "blackhole", upAddr[from].String()+"/32")
				_, _ = nstest.Run(context.Background(), lab.Server, "ip", "route", "del", "blackhole", upAddr[to].String()+"/32")
				upPing(t, lab, dev, at, 10*time.Second)
				took = append(took, time.Since(start))
			}
			reconnects := strings.Count(c.p.Output(), `"state":"connected"`) - 1
			c.stop()
			sp := spreadOf(took)
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d |", server, proto, sp.cells(), reconnects))
			t.Logf("%s %s: default route swap to traffic: median %s (min %s, max %s), %d reconnects", server, proto, sp.median, sp.min, sp.max, reconnects)
		}
	}
	title := "## Roaming: default route swap to a second uplink"
	section := title + "\n\n" +
		fmt.Sprintf("Our client, full tunnel, connected through uplink 1; the default route moves to the other uplink (another link, address and gateway) and the old one stops carrying the server's answers (%d swaps back and forth per row). Time from the swap to the first answered ping through the tunnel device (ping -I; pings every 100 ms, so the figures include up to 100 ms of ping wait); the client moves its host route to the server to the new gateway. Goals: under 1 s for a UDP float, under 2 s for a reconnect (TCP).\n\n", uplinkMoves) +
		"| Server | Transport | Median | Min | Max | Reconnects |\n|---|---|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	writeSection(t, title, section)
}
