//go:build darwin || windows

package osloop

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/internal/testkit/osinteg"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/platform"
)

// The server's device answers every IPv4 UDP datagram by swapping source
// and destination (addresses and ports); the checksums stay valid.
type echoDevice struct {
	done chan struct{}
	once sync.Once
	out  chan []byte
}

func (d *echoDevice) BatchSize() int { return 1 }

func (d *echoDevice) Close() error {
	d.once.Do(func() { close(d.done) })
	return nil
}

func (d *echoDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case p := <-d.out:
		sizes[0] = copy(bufs[0][offset:], p)
		return 1, nil
	case <-d.done:
		return 0, net.ErrClosed
	}
}

func (d *echoDevice) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		p := b[offset:]
		if len(p) < 28 || p[0]>>4 != 4 || p[9] != 17 {
			continue // only IPv4 UDP is echoed
		}
		ihl := int(p[0]&0xf) * 4
		if len(p) < ihl+8 {
			continue
		}
		q := bytes.Clone(p)
		copy(q[12:16], p[16:20])
		copy(q[16:20], p[12:16])
		copy(q[ihl:ihl+2], p[ihl+2:ihl+4])
		copy(q[ihl+2:ihl+4], p[ihl:ihl+2])
		select {
		case d.out <- q:
		default:
		}
	}
	return len(bufs), nil
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// The client CIDR must be /12../22 (like AWS), larger than any TEST-NET
// block: it comes from 198.18.0.0/15, the range RFC 2544 reserves for
// benchmarking networks, which is never routed on the Internet. The pushed
// route is TEST-NET-2.
const (
	clientCIDR = "198.18.0.0/22"
	pushed     = "198.51.100.0/24"
)

func startServer(t *testing.T) (profilePath string) {
	t.Helper()
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	if _, err := export.InitLab(dir, export.InitOptions{Listen: listen, PKI: pki.Options{KeyType: pki.ECDSAP256}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "server.toml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range [][2]string{
		{`client_cidr = "10.100.0.0/22"`, `client_cidr = "` + clientCIDR + `"`},
		{`split_tunnel = false`, `split_tunnel = true`},
		{"# [[routes]]\n# destination = \"172.31.0.0/16\"", "[[routes]]\ndestination = \"" + pushed + "\""},
		{`socket = "admin.sock"`, `socket = ""`},
		{`path = "connections.log"`, `path = ""`},
	} {
		if !strings.Contains(doc, r[0]) {
			t.Fatalf("server.toml of the lab has no %q:\n%s", r[0], doc)
		}
		doc = strings.Replace(doc, r[0], r[1], 1)
	}
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan server.Info, 1)
	srv, err := server.New(c, server.Options{Device: &echoDevice{done: make(chan struct{}), out: make(chan []byte, 64)},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Ready: func(i server.Info) { ready <- i }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30s")
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready within 20s")
	}
	return filepath.Join(dir, export.DefaultClient+".ovpn")
}

// TestOSClientAgainstInProcessServer connects the real client, with this
// OS's tunnel device and routes, to an in-process server on loopback, sends
// a UDP datagram to a TEST-NET address through the tunnel and reads the
// server's echo, then disconnects and checks the routes are as before.
func TestOSClientAgainstInProcessServer(t *testing.T) {
	osinteg.Require(t, "TestOSClientAgainstInProcessServer (client with the OS tunnel against an in-process server on loopback)")
	osinteg.MustTestNet(t, netip.MustParsePrefix(pushed))
	host, err := platform.Open(platform.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	listRelevant := func(names ...string) []string {
		rs, err := host.List()
		if err != nil {
			t.Fatal(err)
		}
		cidr := netip.MustParsePrefix(clientCIDR)
		out := osinteg.Keys(osinteg.Relevant(rs, names...))
		for _, r := range rs {
			if cidr.Overlaps(r.Dst) {
				out = append(out, osinteg.Key(r))
			}
		}
		return out
	}
	before := listRelevant()

	profPath := startServer(t)
	prof, _, err := profile.ParseFile(profPath, profile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan client.TunnelInfo, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- session.Run(ctx, session.Options{
			Profile: prof, StateDir: t.TempDir(), TunnelID: "osloop", NoDNS: true,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
			Events: func(clientapi.Event) {},
			OnTunnelUp: func(ti client.TunnelInfo) func() {
				select {
				case up <- ti:
				default:
				}
				return nil
			},
		})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("session: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("session did not end within 30s")
		}
	}
	defer stop()
	var ti client.TunnelInfo
	select {
	case ti = <-up:
	case err := <-done:
		t.Fatalf("session ended before the tunnel came up: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("tunnel not up within 60s")
	}
	hop, err := host.RouteTo(netip.MustParseAddr("198.51.100.7"))
	if err != nil || hop.Interface != ti.Interface {
		t.Fatalf("RouteTo(198.51.100.7) = %+v, %v; want the tunnel %s", hop, err, ti.Interface)
	}

	conn, err := net.Dial("udp4", "198.51.100.7:7")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := []byte("cvpn one-machine end-to-end")
	buf := make([]byte, 1500)
	var got []byte
	for try := 0; try < 10 && got == nil; try++ {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := conn.Read(buf); err == nil {
			got = buf[:n]
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo through the tunnel: got %q, want %q", got, msg)
	}
	stop()
	if after := listRelevant(ti.Interface); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("routes after disconnect:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}
