package bench

import (
	"bufio"
	"encoding/hex"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RFC 7748 section 6.1: Alice's key pair.
const (
	rfc7748Priv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
	rfc7748Pub  = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWGKeyKnownAnswer(t *testing.T) {
	k, err := wgKeyFromPrivate(mustHex(t, rfc7748Priv))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(k.pub); got != rfc7748Pub {
		t.Fatalf("public key %s, want %s", got, rfc7748Pub)
	}
	if _, err := wgKeyFromPrivate(make([]byte, 31)); err == nil {
		t.Fatal("31-byte private key accepted")
	}
	a, err := newWGKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := wgKeyFromPrivate(a.priv)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.priv) != 32 || len(a.pub) != 32 || hex.EncodeToString(a.pub) != hex.EncodeToString(b.pub) {
		t.Fatalf("generated key pair does not round-trip: %d/%d bytes", len(a.priv), len(a.pub))
	}
}

func TestUAPISetText(t *testing.T) {
	priv, pub := mustHex(t, rfc7748Priv), mustHex(t, rfc7748Pub)
	got := wgConfig{priv: priv, peers: []wgPeer{{pub: pub, endpoint: "198.18.0.2:51820", allowedIP: "10.99.0.0/24", keepalive: 25}}}.uapiSet()
	want := "set=1\nprivate_key=" + rfc7748Priv + "\npublic_key=" + rfc7748Pub +
		"\nendpoint=198.18.0.2:51820\nallowed_ip=10.99.0.0/24\npersistent_keepalive_interval=25\n\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	got = wgConfig{priv: priv, listenPort: 51820, peers: []wgPeer{{pub: pub, allowedIP: "10.99.0.2/32"}}}.uapiSet()
	want = "set=1\nprivate_key=" + rfc7748Priv + "\nlisten_port=51820\npublic_key=" + rfc7748Pub + "\nallowed_ip=10.99.0.2/32\n\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// fakeUAPI answers one set request on a unix socket with answer and
// returns the request it read.
func fakeUAPI(t *testing.T, answer string) (string, <-chan string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "wgx.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		var req strings.Builder
		for {
			l, err := r.ReadString('\n')
			req.WriteString(l)
			if err != nil || l == "\n" {
				break
			}
		}
		got <- req.String()
		_, _ = c.Write([]byte(answer))
	}()
	return sock, got
}

func TestUAPIConfigure(t *testing.T) {
	cfg := wgConfig{priv: mustHex(t, rfc7748Priv), listenPort: 51820, peers: []wgPeer{{pub: mustHex(t, rfc7748Pub), allowedIP: "10.99.0.2/32"}}}

	sock, req := fakeUAPI(t, "errno=0\n\n")
	if err := uapiConfigure(sock, cfg, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := <-req; r != cfg.uapiSet() {
		t.Fatalf("daemon read %q, want %q", r, cfg.uapiSet())
	}

	sock, req = fakeUAPI(t, "errno=-22\n\n")
	err := uapiConfigure(sock, cfg, 2*time.Second)
	<-req
	if err == nil || !strings.Contains(err.Error(), "errno=-22") || !strings.Contains(err.Error(), sock) {
		t.Fatalf("error %v, want errno=-22 and the socket path", err)
	}
	if strings.Contains(err.Error(), rfc7748Priv) {
		t.Fatalf("error leaks the private key: %v", err)
	}

	sock, req = fakeUAPI(t, "hello\n\n")
	err = uapiConfigure(sock, cfg, 2*time.Second)
	<-req
	if err == nil || !strings.Contains(err.Error(), "no errno line") {
		t.Fatalf("error %v, want a missing errno line", err)
	}

	sock, req = fakeUAPI(t, "errno=0") // connection closes before the blank line
	err = uapiConfigure(sock, cfg, 2*time.Second)
	<-req
	if err == nil || !strings.Contains(err.Error(), "reading the answer") {
		t.Fatalf("error %v, want a read error", err)
	}

	if err := uapiConfigure(filepath.Join(t.TempDir(), "none.sock"), cfg, time.Second); err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("error %v, want the missing socket named", err)
	}
}

func TestWGSection(t *testing.T) {
	s := func(up, down float64) serverSample {
		var x serverSample
		x.upMbps, x.downMbps = up, down
		x.srvUp, x.srvDown, x.cpuUp, x.cpuDown = 1, 2, 3, 4
		return x
	}
	rows := []wgRow{
		{cipher: "AES-256-GCM", cvpn: []serverSample{s(700, 600), s(900, 650), s(800, 100)}, wg: []serverSample{s(1000, 1000), s(1000, 1000), s(1000, 1000)}},
		{cipher: "CHACHA20-POLY1305", cvpn: []serverSample{s(500, 900)}, wg: []serverSample{s(1000, 1000)}},
	}
	got := wgSection(wgBuild{module: "v0.0.0-x", version: "wireguard-go v0.0.1"}, "CPU", time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), 3, rows)
	for _, want := range []string{
		wgSectionTitle + "\n\n",
		"Reference: wireguard-go v0.0.1 (module golang.zx2c4.com/wireguard@v0.0.0-x as pinned in go.mod",
		"2026-01-02 03:04 UTC; median of 3 runs",
		"| udp | AES-256-GCM | cvpn client + cvpn server | 800 | 600 | 0.80x | 0.60x | 1.0 | 2.0 | 3.0 | 4.0 |\n",
		"| udp | AES-256-GCM | wireguard-go pair | 1000 | 1000 | 1.00x | 1.00x |",
		"| udp | CHACHA20-POLY1305 | cvpn client + cvpn server | 500 | 900 | 0.50x | 0.90x |",
		"Goal 0.6x: AES-256-GCM met (0.80x up, 0.60x down); CHACHA20-POLY1305 not met (0.50x up, 0.90x down).",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
	if ratio(1, 0) != 0 {
		t.Error("ratio against a zero reference is not 0")
	}
}
