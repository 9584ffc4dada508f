package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
)

// discard is a packet device that drops what it is given.
type discard struct{ done chan struct{} }

func (d *discard) Read([][]byte, []int, int) (int, error) { <-d.done; return 0, os.ErrClosed }
func (d *discard) Write(b [][]byte, _ int) (int, error)   { return len(b), nil }
func (d *discard) BatchSize() int                         { return 1 }
func (d *discard) Close() error {
	select {
	case <-d.done:
	default:
		close(d.done)
	}
	return nil
}

// startServer runs an in-process server on 127.0.0.1 with a discard
// device (no TUN, no root) and returns the client settings.
func startServer(tb testing.TB, cidr string, opts ...func(*server.Options)) Config {
	tb.Helper()
	cfg, _ := startStoppableServer(tb, cidr, opts...)
	return cfg
}

// startStoppableServer is startServer that also returns a function that
// stops the server (and waits for it) before the test ends.
func startStoppableServer(tb testing.TB, cidr string, opts ...func(*server.Options)) (Config, func()) {
	tb.Helper()
	dir := tb.TempDir()
	if _, err := export.InitLab(dir, export.InitOptions{Listen: "127.0.0.1:0", PKI: keyOpts()}); err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "server.toml")
	b, _ := os.ReadFile(p)
	doc := strings.Replace(string(b), `client_cidr = "10.100.0.0/22"`, `client_cidr = "`+cidr+`"`, 1)
	doc = strings.Replace(doc, `socket = "admin.sock"`, `socket = ""`, 1)
	doc = strings.Replace(doc, `path = "connections.log"`, `path = ""`, 1)
	os.WriteFile(p, []byte(doc), 0o644)
	c, err := config.Load(p)
	if err != nil {
		tb.Fatal(err)
	}
	ready := make(chan server.Info, 1)
	o := server.Options{Device: &discard{done: make(chan struct{})}, Ready: func(i server.Info) { ready <- i }}
	for _, f := range opts {
		f(&o)
	}
	srv, err := server.New(c, o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				tb.Error(err)
			}
		})
	}
	tb.Cleanup(stop)
	var info server.Info
	select {
	case info = <-ready:
	case err := <-errc:
		tb.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki/client1.crt"), filepath.Join(dir, "pki/client1.key"))
	if err != nil {
		tb.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "pki/ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return Config{Server: info.Listen, TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "server"}}, stop
}

func TestSessionGetsPushReply(t *testing.T) {
	cfg := startServer(t, "10.100.0.0/22")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range []string{"PUSH_REPLY", "ifconfig 10.100.0.2 255.255.252.0", "topology subnet", "route-gateway 10.100.0.1", "redirect-gateway def1", "peer-id ", "cipher AES-256-GCM", "protocol-flags cc-exit tls-ekm"} {
		if !strings.Contains(s.PushReply, want) {
			t.Errorf("push reply lacks %q: %s", want, s.PushReply)
		}
	}
	bad := cfg
	bad.Server = netip.AddrPortFrom(cfg.Server.Addr(), cfg.Server.Port())
	bad.TLS = cfg.TLS.Clone()
	bad.TLS.Certificates = nil
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if s2, err := Dial(sctx, bad); err == nil {
		s2.Close()
		t.Error("a client without certificate got a session on a mutual-auth endpoint")
	}
}

// BenchmarkHandshake measures full session setups (reset, TLS 1.3 with
// client certificate, key method 2, push) per second.
func BenchmarkHandshake(b *testing.B) {
	cfg := startServer(b, "10.96.0.0/12")
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s, err := Dial(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
}

// BenchmarkIdleSessions opens 1,000 concurrent sessions and reports the
// heap per idle session (client and server sides together: both run in
// this process).
func BenchmarkIdleSessions(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		cfg := startServer(b, "10.96.0.0/12")
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		sessions, err := DialMany(cfg, n, 16, 60*time.Second)
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n/1024, "KiB/session")
		b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/session")
		b.ReportMetric(n/elapsed.Seconds(), "handshakes/s-concurrent")
		for _, s := range sessions {
			s.Close()
		}
	}
}
