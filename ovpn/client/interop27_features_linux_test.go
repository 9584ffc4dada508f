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
// what it was (no renegotiations meanwhile: see
// TestInterop27PushUpdateDuringRenegotiation for updates during them).
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
	m := dialMgmt(t, r)
	cid := m.clientID(t, "client1")
	send := func(opts, event string) {
		t.Helper()
		cmd := fmt.Sprintf("push-update-cid %s %q", cid, opts)
		if line := m.command(t, cmd); !strings.HasPrefix(line, "SUCCESS") {
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

// mgmt is a connection to an OpenVPN server's management socket.
type mgmt struct {
	c  net.Conn
	br *bufio.Reader
}

func dialMgmt(t *testing.T, r *running) *mgmt {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(r.srv.Dir, "management.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &mgmt{c: c, br: bufio.NewReader(c)}
}

// command sends one command and returns its SUCCESS/ERROR line (real-time
// notifications, ">...", are skipped).
func (m *mgmt) command(t *testing.T, cmd string) string {
	t.Helper()
	m.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(m.c, "%s\n", cmd); err != nil {
		t.Fatalf("management %q: %v", cmd, err)
	}
	for {
		line, err := m.br.ReadString('\n')
		if err != nil {
			t.Fatalf("management %q: %v", cmd, err)
		}
		if strings.HasPrefix(line, "SUCCESS") || strings.HasPrefix(line, "ERROR") {
			return strings.TrimSpace(line)
		}
	}
}

// clientID is the management client id of common name cn.
func (m *mgmt) clientID(t *testing.T, cn string) string {
	t.Helper()
	m.c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(m.c, "status 2\n")
	cid := ""
	for {
		line, err := m.br.ReadString('\n')
		if err != nil {
			t.Fatalf("management status: %v", err)
		}
		if f := strings.Split(line, ","); f[0] == "CLIENT_LIST" && len(f) > 10 && f[1] == cn {
			cid = f[10]
		}
		if strings.HasPrefix(line, "END") {
			break
		}
	}
	if cid == "" {
		t.Fatalf("no client %s in the management status", cn)
	}
	return cid
}

// TestInterop27PushUpdateDuringRenegotiation (issue 20): a 2.7 server that
// renegotiates every 2 s sends push-update-cid right as a renegotiation
// starts (0, 20 or 40 ms after its "soft reset"), six times: every update
// must be applied (the new route replaces the previous one) and carry a
// ping to an address only it reaches.
//
// cvpn reads control messages from every key's TLS session, old or new.
// What lost issue 20's update is the 2.7 server (2.7.8 in the sid chroot,
// seen at verb 9): push-update-cid writes the message into the TLS session
// of its primary key ("BIO write tls_write_plaintext_const") but the
// ciphertext leaves only when the server next processes this client. With
// an idle client that was the next soft reset, which first made the key a
// lame duck, whose TLS session OpenVPN no longer pumps: the update never
// reached the wire (without the ping, 4 of 4 runs lost one of the first
// three updates; in the two traced it came 3 and 25 ms after the new key
// turned active). The ping below keeps the tunnel in
// use, as a real one is; each update then arrives with the next packet.
func TestInterop27PushUpdateDuringRenegotiation(t *testing.T) {
	nstest.RequireRoot(t)
	openvpnpeer.Require27(t)
	r := startInterop(t, interopCase{server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt, Version: openvpnpeer.V27,
		RenegSec: 2, Management: true}, profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}})
	// Traffic keeps flowing, as on a tunnel in use: a 2.7 server writes a
	// PUSH_UPDATE into its TLS session but sends it only the next time it
	// handles this client; when that is the next renegotiation, the update
	// is stranded in the key it retires (see the function comment).
	pinger := nstest.Start(t, r.lab.Client, "ping", "-q", "-i", "0.2", r.srv.TunnelIP().String())
	defer pinger.Stop(time.Second)
	m := dialMgmt(t, r)
	cid := m.clientID(t, "client1")
	const updates = 6
	for i := range updates {
		net4 := netip.AddrFrom4([4]byte{192, 0, 2, byte(16 * (i + 1))})
		host := net4.Next()
		nstest.MustRun(t, r.lab.Server, "ip", "addr", "add", host.String()+"/32", "dev", "lo")
		resets := strings.Count(r.srv.Log(), "TLS: soft reset")
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(r.srv.Log(), "TLS: soft reset") == resets {
			if time.Now().After(deadline) {
				t.Fatalf("update %d: no renegotiation in 10 s\n%s", i, r.srv.Log())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(i%3) * 20 * time.Millisecond)
		cmd := fmt.Sprintf("push-update-cid %s \"route %s 255.255.255.240, route 198.19.0.0 255.255.255.0\"", cid, net4)
		if line := m.command(t, cmd); !strings.HasPrefix(line, "SUCCESS") {
			t.Fatalf("update %d: %s: %s", i, cmd, line)
		}
		sent := time.Now()
		for strings.Count(r.cl.Output(), "the server updated the routes") <= i {
			if time.Since(sent) > 15*time.Second {
				t.Fatalf("update %d (sent %d resets in) never applied:\n%s\nserver:\n%s", i, resets+1, r.cl.Output(), r.srv.Log())
			}
			time.Sleep(10 * time.Millisecond)
		}
		applied := time.Since(sent)
		want := "the server updated the routes: 1 added, 1 removed"
		if i == 0 {
			want = "the server updated the routes: 1 added, 0 removed"
		}
		if n := strings.Count(r.cl.Output(), want); n == 0 {
			t.Errorf("update %d: no %q:\n%s", i, want, r.cl.Output())
		}
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		err := nstest.Ping(ctx, r.lab.Client, host)
		cancel()
		if err != nil {
			t.Fatalf("update %d: ping %s through the pushed route %s/28: %v", i, host, net4, err)
		}
		t.Logf("update %d applied %s after it was sent, during renegotiation %d", i, applied.Round(time.Millisecond), resets+1)
	}
	r.stop(t)
}
