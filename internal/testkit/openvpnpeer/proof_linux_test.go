package openvpnpeer

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// TestOpenVPNClientServerProof is the harness's proof of life: Debian's
// OpenVPN 2.6 client and server in a lab, tls-crypt, AES-256-GCM, over UDP
// and TCP. Pings cross the tunnel to the server and to the lan behind it, a
// 20 MB transfer arrives intact, and the client namespace is exactly as
// before once both ends are stopped.
func TestOpenVPNClientServerProof(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			caseStart := time.Now()
			lab := nstest.New(t, nstest.Options{LAN: true})
			before := nstest.MustSnapshot(t, lab.Client)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := nstest.PingFails(ctx, lab.Client, nstest.LANHostIP); err != nil {
				t.Fatalf("lan reachable before the tunnel: %v", err)
			}

			srv := StartServer(t, ServerConfig{
				NS:          lab.Server,
				Listen:      nstest.ServerIP,
				Proto:       proto,
				Wrap:        WrapTLSCrypt,
				DataCiphers: []string{"AES-256-GCM"},
				PushRoutes:  []netip.Prefix{nstest.LANPrefix, nstest.LANPrefix6},
			})
			profile, err := srv.ClientProfile(ProfileOptions{ClientCert: "client1"})
			if err != nil {
				t.Fatal(err)
			}
			cl := Connect(t, ClientConfig{NS: lab.Client, Profile: profile})
			t.Logf("%s: server ready in %v, client connected in %v (ip %s %s, dev %s, cipher %s)",
				proto, srv.StartupTime.Round(time.Millisecond), cl.ConnectTime.Round(time.Millisecond),
				cl.TunnelIP, cl.TunnelIP6, cl.Device, cl.Cipher)
			if cl.Cipher != "AES-256-GCM" {
				t.Errorf("negotiated cipher %q, want AES-256-GCM", cl.Cipher)
			}
			if !srv.Config.Network.Contains(cl.TunnelIP) || !srv.Config.Network6.Contains(cl.TunnelIP6) {
				t.Errorf("client tunnel addresses %s %s outside %s %s", cl.TunnelIP, cl.TunnelIP6, srv.Config.Network, srv.Config.Network6)
			}

			for _, dst := range []netip.Addr{srv.TunnelIP(), srv.TunnelIP6(), nstest.LANHostIP, nstest.LANHostIP6} {
				if err := nstest.Ping(ctx, lab.Client, dst); err != nil {
					t.Errorf("ping %s through the tunnel: %v", dst, err)
				}
			}
			res, err := nstest.Transfer(ctx, lab.Client, lab.Server, srv.TunnelIP(), 20<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() {
				t.Fatalf("20 MB through the tunnel not intact: %s", res)
			}
			t.Logf("%s transfer: %s", proto, res)
			res, err = nstest.Transfer(ctx, lab.Client, lab.LAN, nstest.LANHostIP6, 2<<20)
			if err != nil || !res.OK() {
				t.Errorf("2 MB to the lan host over IPv6: %v %s", err, res)
			}

			if err := cl.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			nstest.AssertUnchanged(t, before)
			if el := time.Since(caseStart); el > 20*time.Second {
				t.Errorf("case took %v, budget 20s", el)
			}
		})
	}
}
