package client_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestInterop27Features: cvpn against an OpenVPN 2.7 server (UDP tls-crypt,
// TCP tls-auth) renegotiating every 2 s: epoch data keys (connected event
// and the server's log), dynamic tls-crypt on every renegotiation (its log;
// at least two renegotiations complete), 20 MB each way intact.
func TestInterop27Features(t *testing.T) {
	nstest.RequireRoot(t)
	openvpnpeer.Require27(t)
	for _, tc := range []struct {
		proto string
		wrap  openvpnpeer.TLSWrap
	}{{"udp", openvpnpeer.WrapTLSCrypt}, {"tcp", openvpnpeer.WrapTLSAuth}} {
		t.Run(tc.proto+"-"+tc.wrap.String(), func(t *testing.T) {
			r := startInterop(t, interopCase{server: openvpnpeer.ServerConfig{Proto: tc.proto, Wrap: tc.wrap, Version: openvpnpeer.V27,
				Verb: 4, RenegSec: 2, Management: true}, profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}, wantCipher: "AES-256-GCM"})
			if !strings.Contains(r.cl.Output(), `"data_keys":"epoch"`) {
				t.Errorf("connected event without epoch data keys:\n%s", r.cl.Output())
			}
			time.Sleep(5 * time.Second)
			r.prove(t)
			log := r.srv.Log()
			for _, want := range []string{"protocol-flags cc-exit tls-ekm dyn-tls-crypt aead-epoch", "Outgoing Epoch Data key 1", "Outgoing dynamic tls-crypt"} {
				if !strings.Contains(log, want) {
					t.Errorf("server log lacks %q", want)
				}
			}
			if n := strings.Count(log, "Control Channel: TLS"); n < 3 {
				t.Errorf("%d TLS sessions in the server's log, want the first and at least two renegotiations", n)
			}
			r.stop(t)
		})
	}
}

// TestInterop27PushUpdate: the 2.7 server's push-update-cid adds a route
// the cvpn client installs and uses, a dns option that reaches the
// namespace's resolv.conf, redirect-gateway def1 (an outside host is
// reached through the tunnel; its removal takes that away) and tun-mtu
// (the device's MTU); after the disconnect resolv.conf is byte for byte
// what it was (no renegotiations meanwhile: see the report of issue 20
// for a PUSH_UPDATE that was not applied once while the server
// renegotiated every 2 s on a loaded machine).
func TestInterop27PushUpdate(t *testing.T) {
	nstest.RequireRoot(t)
	openvpnpeer.Require27(t)
	r := startInterop(t, interopCase{server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt, Version: openvpnpeer.V27,
		Management: true}, profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}})
	origResolv, err := os.ReadFile(nstest.ResolvConfPath(r.lab.Client))
	if err != nil {
		t.Fatal(err)
	}
	send := pushUpdate27(t, r)
	send("dns server 0 address 192.0.2.53, dns search-domains corp.example", "the server updated DNS: servers 192.0.2.53")
	if rc, _ := os.ReadFile(nstest.ResolvConfPath(r.lab.Client)); !strings.Contains(string(rc), "nameserver 192.0.2.53\n") || !strings.Contains(string(rc), "search corp.example") {
		t.Errorf("resolv.conf after the dns update:\n%s", rc)
	}
	outside := netip.MustParseAddr("203.0.113.9")
	nstest.MustRun(t, r.lab.Server, "ip", "addr", "add", outside.String()+"/32", "dev", "lo")
	send("redirect-gateway def1", "the server updated the routes: 3 added, 0 removed")
	if out := nstest.MustRun(t, r.lab.Client, "ip", "route", "get", outside.String()); !strings.Contains(out, "dev cvpn") {
		t.Errorf("route to %s after redirect-gateway def1 is not through the tunnel: %s", outside, out)
	}
	ping := func(a netip.Addr) error {
		ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
		defer cancel()
		return nstest.Ping(ctx, r.lab.Client, a)
	}
	if err := ping(outside); err != nil {
		t.Errorf("ping %s through the full tunnel: %v", outside, err)
	}
	send("-redirect-gateway", "the server updated the routes: 0 added, 3 removed")
	if out, err := nstest.Run(r.ctx, r.lab.Client, "ip", "route", "get", outside.String()); err == nil {
		t.Errorf("the client still routes %s after redirect-gateway was removed:\n%s", outside, out)
	}
	send("tun-mtu 1400", "the server changed the tunnel MTU to 1400")
	if out := nstest.MustRun(t, r.lab.Client, "ip", "-o", "link", "show"); !regexp.MustCompile(`cvpn\d+: .*mtu 1400 `).MatchString(out) {
		t.Errorf("tunnel device MTU after tun-mtu 1400:\n%s", out)
	}
	if err := ping(netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("ping through the pushed route after the updates: %v", err)
	}
	r.stop(t)
	if rc, _ := os.ReadFile(nstest.ResolvConfPath(r.lab.Client)); string(rc) != string(origResolv) {
		t.Errorf("resolv.conf after disconnect:\n%q\nwant\n%q", rc, origResolv)
	}
}

// pushUpdate27 sends push-update-cid through the 2.7 server's management
// socket: the client must install 192.0.2.0/24 and reach 192.0.2.1 (an
// address of the server namespace) through it. It returns a function that
// sends a further update and waits for the client's event.
func pushUpdate27(t *testing.T, r *running) func(opts, event string) {
	t.Helper()
	nstest.MustRun(t, r.lab.Server, "ip", "addr", "add", "192.0.2.1/32", "dev", "lo")
	cid := ""
	mgmt(t, r, "status 2", func(line string) {
		if f := strings.Split(line, ","); f[0] == "CLIENT_LIST" && len(f) > 10 && f[1] == "client1" {
			cid = f[10]
		}
	})
	send := func(opts, event string) {
		t.Helper()
		cmd := fmt.Sprintf("push-update-cid %s %q", cid, opts)
		if line := mgmt(t, r, cmd, nil); !strings.HasPrefix(line, "SUCCESS") {
			t.Fatalf("%s: %q", cmd, line)
		}
		// The 2.7 server sends the update at its next I/O event; a packet
		// through the tunnel makes one at once (15 s later otherwise).
		nstest.Run(r.ctx, r.lab.Client, "ping", "-n", "-q", "-c", "1", "-W", "1", "192.0.2.1")
		if err := r.cl.WaitFor(r.ctx, event); err != nil {
			t.Fatalf("%s: no event %q: %v\n%s", cmd, event, err, r.cl.Output())
		}
	}
	send("route 192.0.2.0 255.255.255.0, route 198.19.0.0 255.255.255.0", "the server updated the routes: 1 added, 0 removed")
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, r.lab.Client, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatalf("ping through the pushed route: %v", err)
	}
	return send
}

// mgmt runs one command on the 2.7 server's management socket. With each
// nil it returns the first line of the answer; otherwise it hands each
// line to each up to END.
func mgmt(t *testing.T, r *running, cmd string, each func(string)) string {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(r.srv.Dir, "management.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "%s\n", cmd)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("management %q: %v", cmd, err)
		}
		if strings.HasPrefix(line, ">INFO") {
			continue // the greeting
		}
		if each == nil {
			return line
		}
		if strings.HasPrefix(line, "END") {
			return line
		}
		each(line)
	}
}
