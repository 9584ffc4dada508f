package server_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestOpenVPN27ClientFeatures: an OpenVPN 2.7 client through cvpn server
// with tls-crypt-v2 (UDP stateless, TCP) and tls-crypt, renegotiating every
// 2 s: it gets "dyn-tls-crypt aead-epoch", at least two renegotiations
// complete (under the dynamic tls-crypt key), 20 MB each way intact; over
// UDP, `cvpn server push-update` adds a route the 2.7 client installs and
// uses.
func TestOpenVPN27ClientFeatures(t *testing.T) {
	openvpnpeer.Require27(t)
	for _, tc := range []struct{ transport, wrap string }{{"udp", "tls-crypt-v2"}, {"tcp", "tls-crypt-v2"}, {"udp", "tls-crypt"}} {
		t.Run(tc.transport+"-"+tc.wrap, func(t *testing.T) {
			ls := newLabServer(t, serverSpec{transport: tc.transport, wrap: tc.wrap, split: true, top: "reneg_sec = 2\n",
				prepareLab: func(t *testing.T, lab *nstest.Lab, dir string) {
					nstest.MustRun(t, lab.Server, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
				}})
			cl := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, ""), Version: openvpnpeer.V27})
			time.Sleep(5 * time.Second)
			proveTraffic(t, ls.lab, cl.TunnelIP)
			if !strings.Contains(cl.Log(), "dyn-tls-crypt aead-epoch") {
				t.Errorf("2.7 client did not get dyn-tls-crypt and aead-epoch:\n%s", cl.Log())
			}
			if n := strings.Count(cl.Log(), "Control Channel: TLS"); n < 3 {
				t.Errorf("%d TLS sessions in the 2.7 client's log, want the first and at least two renegotiations", n)
			}
			if tc.wrap != "tls-crypt" {
				return
			}
			if out, err := pushUpdate(t, ls, activeConnection(t, ls), "route 192.0.2.0 255.255.255.0", "route 198.19.0.0 255.255.255.0"); err != nil {
				t.Fatalf("push-update: %v\n%s", err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := nstest.Ping(ctx, ls.lab.Client, netip.MustParseAddr("192.0.2.1")); err != nil {
				t.Fatalf("ping through the route pushed by push-update: %v\nclient log:\n%s", err, cl.Log())
			}
		})
	}
}
