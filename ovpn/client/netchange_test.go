package client_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/icmpecho"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/platformtest"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

// echoDevice is the server's TUN device in these tests: it answers ICMP
// echo requests to any address (like the server's kernel does for its
// tunnel address) unless muted.
type echoDevice struct {
	mu      sync.Mutex
	muted   bool
	replies chan []byte
	done    chan struct{}
	once    sync.Once
}

func newEchoDevice() *echoDevice {
	return &echoDevice{replies: make(chan []byte, 64), done: make(chan struct{})}
}

func (d *echoDevice) mute(m bool) { d.mu.Lock(); d.muted = m; d.mu.Unlock() }

func (d *echoDevice) Read(bufs [][]byte, sizes []int, off int) (int, error) {
	select {
	case p := <-d.replies:
		sizes[0] = copy(bufs[0][off:], p)
		return 1, nil
	case <-d.done:
		return 0, os.ErrClosed
	}
}

func (d *echoDevice) Write(bufs [][]byte, off int) (int, error) {
	d.mu.Lock()
	muted := d.muted
	d.mu.Unlock()
	for _, b := range bufs {
		p := b[off:]
		if muted || len(p) < 28 || p[0] != 0x45 || p[9] != 1 || p[20] != 8 {
			continue
		}
		r := append([]byte(nil), p...)
		copy(r[12:16], p[16:20])
		copy(r[16:20], p[12:16])
		r[20] = 0 // echo reply
		r[22], r[23] = 0, 0
		binary.BigEndian.PutUint16(r[22:], icmpecho.Checksum(r[20:]))
		select {
		case d.replies <- r:
		default:
		}
	}
	return len(bufs), nil
}

func (d *echoDevice) BatchSize() int { return 1 }
func (d *echoDevice) Close() error   { d.once.Do(func() { close(d.done) }); return nil }

// roamLab is our server in this process (on loopback, with an echoDevice)
// and a client on a fake system, fed network changes by the test.
type roamLab struct {
	srv     *server.Server
	dev     *echoDevice
	sys     *platformtest.System
	changes chan client.NetChange
	mu      sync.Mutex
	events  []clientapi.Event
	inbound map[*tuntest.ChannelTUN]chan []byte // packets the client wrote to each TUN device
	stop    chan struct{}
	evc     chan clientapi.Event
	done    chan error
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func startRoamLab(t *testing.T) *roamLab { return startLab(t, labOptions{}) }

// labOptions vary the in-process lab.
type labOptions struct {
	edit       func(doc string) string // edits server.toml
	now        func() time.Time        // the server's clock
	federation clientapi.Federation
	// credentials answers the user name and password questions.
	credentials clientapi.Credentials
}

func startLab(t *testing.T, o labOptions) *roamLab {
	t.Helper()
	dir := t.TempDir()
	listen := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(freeUDPPort(t))).String()
	if _, err := export.InitLab(dir, export.InitOptions{Listen: listen, PKI: pki.Options{KeyType: pki.ECDSAP256}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "server.toml")
	b, _ := os.ReadFile(p)
	doc := strings.NewReplacer(`split_tunnel = false`, `split_tunnel = true`, `socket = "admin.sock"`, `socket = ""`,
		`path = "connections.log"`, `path = ""`).Replace(string(b))
	if o.edit != nil {
		doc = o.edit(doc)
	}
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	lab := &roamLab{dev: newEchoDevice(), sys: platformtest.New(), changes: make(chan client.NetChange, 4),
		evc: make(chan clientapi.Event, 256), done: make(chan error, 1),
		inbound: map[*tuntest.ChannelTUN]chan []byte{}, stop: make(chan struct{})}
	t.Cleanup(func() { close(lab.stop) }) // runs after the client stopped
	ready := make(chan struct{})
	lab.srv, err = server.New(cfg, server.Options{Device: lab.dev, Now: o.now, Ready: func(server.Info) { close(ready) }})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan error, 1)
	go func() { sdone <- lab.srv.Run(sctx) }()
	t.Cleanup(func() { scancel(); <-sdone })
	select {
	case <-ready:
	case err := <-sdone:
		t.Fatal(err)
	}
	text, err := export.Profile(cfg, export.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	prof, ds := profile.Parse([]byte(text), profile.Options{Name: "roam.ovpn", BaseDir: dir})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	c, err := client.New(client.Config{Profile: prof, Tunnel: &platform.Configurator{Sys: lab.sys, StateDir: t.TempDir()},
		TunnelID: "roam", NetChanges: lab.changes, Federation: o.federation, Credentials: o.credentials, Events: func(e clientapi.Event) {
			lab.mu.Lock()
			lab.events = append(lab.events, e)
			lab.mu.Unlock()
			select {
			case lab.evc <- e:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { lab.done <- c.Run(cctx) }()
	t.Cleanup(func() {
		ccancel()
		select {
		case <-lab.done:
		case <-time.After(10 * time.Second):
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Errorf("client did not stop; goroutines:\n%s", b.String())
		}
	})
	return lab
}

// waitEvent returns the first event (from now on) that match accepts.
func (lab *roamLab) waitEvent(t *testing.T, within time.Duration, what string, match func(clientapi.Event) bool) clientapi.Event {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case e := <-lab.evc:
			if match(e) {
				return e
			}
		case err := <-lab.done:
			t.Fatalf("client ended (%v) while waiting for %s", err, what)
		case <-timer.C:
			t.Fatalf("no %s within %s; events: %v", what, within, lab.eventLog())
		}
	}
}

func (lab *roamLab) eventLog() []string {
	lab.mu.Lock()
	defer lab.mu.Unlock()
	var out []string
	for _, e := range lab.events {
		out = append(out, e.Event+":"+string(e.State)+":"+e.Detail)
	}
	return out
}

func isConnected(e clientapi.Event) bool {
	return e.Event == clientapi.EventState && e.State == clientapi.StateConnected
}

// pingThroughTunnel sends an echo request into the client's TUN device
// (as an application would) and waits for the reply to come out of it.
func (lab *roamLab) pingThroughTunnel(t *testing.T, conn clientapi.Event, seq uint16) time.Duration {
	t.Helper()
	tunIf, ok := lab.sys.Interface(conn.Interface)
	if !ok || tunIf.Chan == nil {
		t.Fatalf("no TUN interface %q", conn.Interface)
	}
	lab.mu.Lock()
	in, ok := lab.inbound[tunIf.Chan]
	if !ok {
		// The fake TUN's writes block until read: drain it for good.
		in = make(chan []byte, 256)
		lab.inbound[tunIf.Chan] = in
		go func() {
			for {
				select {
				case p := <-tunIf.Chan.Inbound:
					select {
					case in <- p:
					default:
					}
				case <-lab.stop:
					return
				}
			}
		}()
	}
	lab.mu.Unlock()
	src := netip.MustParseAddr(conn.TunnelIPv4)
	dst := netip.MustParseAddr("10.100.0.1")
	p := make([]byte, 36)
	p[0], p[8], p[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(p[2:], 36)
	s4, d4 := src.As4(), dst.As4()
	copy(p[12:], s4[:])
	copy(p[16:], d4[:])
	binary.BigEndian.PutUint16(p[10:], icmpecho.Checksum(p[:20]))
	p[20] = 8
	binary.BigEndian.PutUint16(p[26:], seq)
	binary.BigEndian.PutUint16(p[22:], icmpecho.Checksum(p[20:]))
	start := time.Now()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case tunIf.Chan.Outbound <- p:
		case <-deadline:
			t.Fatal("the TUN device took no packet")
		}
		select {
		case r := <-in:
			if len(r) >= 28 && r[20] == 0 && binary.BigEndian.Uint16(r[26:]) == seq {
				return time.Since(start)
			}
		case <-time.After(200 * time.Millisecond):
			continue // resend, like ping does
		case <-deadline:
			t.Fatal("no echo reply through the tunnel")
		}
	}
}

// TestNetChangeFloatsUDPSession: after a network change the client sends
// from a new socket address, the server floats the session (same
// connection, new endpoint), the probe is answered, no reconnect happens
// and traffic flows through the tunnel.
func TestNetChangeFloatsUDPSession(t *testing.T) {
	lab := startRoamLab(t)
	conn := lab.waitEvent(t, 20*time.Second, "connected event", isConnected)
	lab.pingThroughTunnel(t, conn, 1)
	before := lab.srv.Connections()
	if len(before) != 1 {
		t.Fatalf("server has %d connections", len(before))
	}
	changed := time.Now()
	lab.changes <- client.NetChange{Time: changed, Address: true, Detail: "test: address moved"}
	lab.waitEvent(t, 5*time.Second, "network-changed event", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventNetworkChanged && e.Detail == "test: address moved"
	})
	// The server floats the session on the client's first packet from
	// its new socket address.
	var after []server.ConnectionInfo
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		after = lab.srv.Connections()
		if len(after) != 1 || after[0].Endpoint != before[0].Endpoint || time.Now().After(deadline) {
			break
		}
	}
	if len(after) != 1 || after[0].ID != before[0].ID {
		t.Fatalf("connections after the change: %+v, want the same one as %+v", after, before)
	}
	if after[0].Endpoint == before[0].Endpoint {
		t.Fatalf("the server still sends to %s: the client did not move", after[0].Endpoint)
	}
	rtt := lab.pingThroughTunnel(t, conn, 2)
	t.Logf("traffic flowed again %s after the change (echo round trip %s)", time.Since(changed).Round(time.Millisecond), rtt.Round(time.Millisecond))
	// The probe window passes without a reconnect.
	time.Sleep(1500 * time.Millisecond)
	for _, e := range lab.eventLog() {
		if strings.HasPrefix(e, "state:reconnecting") {
			t.Fatalf("the client reconnected although the session floated: %v", lab.eventLog())
		}
	}
}

// TestNetChangeReconnectsAtOnce: when the server does not answer from the
// new address within about a second, the client reconnects at once (no
// backoff, no ping-restart wait) and traffic flows again.
func TestNetChangeReconnectsAtOnce(t *testing.T) {
	lab := startRoamLab(t)
	conn := lab.waitEvent(t, 20*time.Second, "connected event", isConnected)
	lab.pingThroughTunnel(t, conn, 1)
	lab.dev.mute(true) // the probe's echo goes unanswered
	changed := time.Now()
	lab.changes <- client.NetChange{Time: changed, DefaultRoute: true, Detail: "test: new uplink"}
	ev := lab.waitEvent(t, 5*time.Second, "reconnecting event", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventState && e.State == clientapi.StateReconnecting
	})
	if !strings.Contains(ev.Detail, "no answer within") {
		t.Errorf("reconnect reason %q, want the unanswered probe", ev.Detail)
	}
	lab.dev.mute(false)
	conn2 := lab.waitEvent(t, 10*time.Second, "connected event after the reconnect", isConnected)
	lab.pingThroughTunnel(t, conn2, 2)
	took := time.Since(changed)
	t.Logf("traffic flowed again %s after the change (reconnect)", took.Round(time.Millisecond))
	for _, e := range lab.eventLog() {
		if strings.Contains(e, "retrying in") {
			t.Fatalf("the client waited for a backoff: %v", lab.eventLog())
		}
	}
}
