package server_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
)

// TestTLSCryptV2Server runs cvpn server with only a tls-crypt-v2 server key
// (and a maximum key age): a profile exported for cvpn and one for OpenVPN
// 2.6 each carry a new client key, and both clients connect and move
// traffic (UDP: stateless, WKc resent in P_CONTROL_WKC_V1; TCP: stateful).
func TestTLSCryptV2Server(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			ls := newLabServer(t, serverSpec{transport: transport, wrap: "tls-crypt-v2", v2MaxAge: 30})
			prof := ls.profile(t, "")
			if !strings.Contains(prof, "<tls-crypt-v2>") || strings.Contains(prof, "<tls-crypt>") {
				t.Fatalf("exported profile lacks its own tls-crypt-v2 key:\n%s", prof)
			}
			if again := ls.profile(t, ""); v2Block(again) == v2Block(prof) {
				t.Fatal("two exports carry the same tls-crypt-v2 client key")
			}
			before := nstest.MustSnapshot(t, ls.lab.Client)
			cl := startCVPN(t, ls, prof, "")
			proveTraffic(t, ls.lab, cl.waitConnected(t))
			cl.disconnect(t)
			nstest.AssertUnchanged(t, before)

			oc := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, "")})
			t.Logf("OpenVPN 2.6 client connected in %s with %s", oc.ConnectTime, oc.Cipher)
			proveTraffic(t, ls.lab, oc.TunnelIP)
		})
	}
}

var v2BlockRE = regexp.MustCompile(`(?s)<tls-crypt-v2>.*</tls-crypt-v2>`)

func v2Block(profile string) string { return v2BlockRE.FindString(profile) }

// TestTLSCryptV2MaxAge gives the client a key made 3 days ago by the
// server's key while the server allows 2 days: the server drops the client
// at its first packet and says why; the same profile with a fresh key
// connects.
func TestTLSCryptV2MaxAge(t *testing.T) {
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt-v2", v2MaxAge: 2})
	data, err := os.ReadFile(filepath.Join(ls.dir, "pki", "tls-crypt-v2-server.key"))
	if err != nil {
		t.Fatal(err)
	}
	sk, err := tlswrap.ParseV2ServerKey(data)
	if err != nil {
		t.Fatal(err)
	}
	old, err := sk.NewClientKeyPEM(nil, time.Now().Add(-72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	prof := ls.profile(t, "")
	stale := v2BlockRE.ReplaceAllLiteralString(prof, "<tls-crypt-v2>\n"+string(old)+"</tls-crypt-v2>")
	cl := startCVPN(t, ls, stale, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ls.proc.WaitFor(ctx, "older than the maximum age"); err != nil {
		t.Fatalf("server did not refuse the old key: %v\nclient:\n%s", err, cl.proc.Output())
	}
	if strings.Contains(cl.proc.Output(), `"state":"connected"`) {
		t.Fatal("client with a too old key connected")
	}
	if err := cl.proc.Stop(5 * time.Second); err != nil {
		t.Logf("stopping the refused client: %v", err)
	}
	fresh := startCVPN(t, ls, prof, "")
	proveTraffic(t, ls.lab, fresh.waitConnected(t))
	fresh.disconnect(t)
}
