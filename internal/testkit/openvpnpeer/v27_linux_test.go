package openvpnpeer

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// TestOpenVPN27Pair runs OpenVPN 2.7 from the sid chroot as server and
// client (UDP and TCP) and moves 4 MB through the tunnel; the server is a
// 2.6 client's peer too, and the chroot holds nothing of the run after.
func TestOpenVPN27Pair(t *testing.T) {
	nstest.RequireRoot(t)
	v := Require27(t)
	t.Logf("OpenVPN %s from %s", v, SidDir())
	for _, tc := range []struct {
		proto  string
		wrap   TLSWrap
		client Version
	}{
		{"udp", WrapTLSCrypt, V27},
		{"tcp", WrapTLSAuth, V27},
		{"udp", WrapTLSAuth, V26},
	} {
		t.Run(tc.proto+"-"+tc.wrap.String()+"-client"+tc.client.String(), func(t *testing.T) {
			lab := nstest.New(t, nstest.Options{})
			srv := StartServer(t, ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Version: V27, Proto: tc.proto, Wrap: tc.wrap, Verb: 4,
				Push: []string{"dns server 0 address 192.0.2.53", "dns search-domains corp.example"}})
			if !strings.Contains(srv.Log(), "OpenVPN "+v) {
				t.Fatalf("server log does not name OpenVPN %s:\n%s", v, srv.Log())
			}
			profile, err := srv.ClientProfile(ProfileOptions{ClientCert: "client1"})
			if err != nil {
				t.Fatal(err)
			}
			cl := Connect(t, ClientConfig{NS: lab.Client, Profile: profile, Version: tc.client})
			if cl.Cipher != "AES-256-GCM" {
				t.Errorf("cipher = %q, want AES-256-GCM", cl.Cipher)
			}
			if tc.client == V27 && !strings.Contains(cl.Log(), "dns server 0 address 192.0.2.53") {
				t.Errorf("2.7 client log does not show the pushed dns option:\n%s", cl.Log())
			}
			// The peer's IV_PROTO, as the 2.7 server logs it at verb 4:
			// 2.7 advertises dynamic tls-crypt, epoch keys, the dns
			// option v2 and PUSH_UPDATE (bits 9-12) and no longer bit 6.
			if tc.client == V27 {
				m := regexp.MustCompile(`peer info: IV_PROTO=(\d+)`).FindStringSubmatch(srv.Log())
				if m == nil {
					t.Fatalf("no peer info IV_PROTO in the server log:\n%s", srv.Log())
				}
				n, _ := strconv.Atoi(m[1])
				t.Logf("OpenVPN %s client IV_PROTO=%d; %s", v, n, regexp.MustCompile(`PUSH_REPLY[^\n]*`).FindString(cl.Log()))
				if want := 1<<9 | 1<<10 | 1<<11 | 1<<12; n&want != want || n&(1<<6) != 0 {
					t.Errorf("IV_PROTO=%d (%b): want bits 9-12 set and bit 6 clear", n, n)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := nstest.Transfer(ctx, lab.Client, lab.Server, srv.TunnelIP(), 4<<20)
			if err != nil || !res.OK() {
				t.Fatalf("client -> server transfer: %v %s", err, res)
			}
		})
	}
	// The runs' mounts lived in the processes' own mount namespaces.
	if ents, err := os.ReadDir(SidDir() + RunDir27); err != nil || len(ents) != 0 {
		t.Errorf("%s%s after the runs: %d entries, %v; want an empty directory", SidDir(), RunDir27, len(ents), err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), " "+SidDir()+"/") {
		t.Errorf("mounts left under %s:\n%s", SidDir(), mi)
	}
}
