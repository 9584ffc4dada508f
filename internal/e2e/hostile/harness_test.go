package hostile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/loadgen"
	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/server/export"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/ovpn/statickey"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// countDevice stands in for the TUN device: it counts what the server
// writes to it and never produces packets.
type countDevice struct {
	done    chan struct{}
	once    sync.Once
	packets atomic.Uint64
	bytes   atomic.Uint64
}

func (d *countDevice) Read([][]byte, []int, int) (int, error) { <-d.done; return 0, os.ErrClosed }
func (d *countDevice) Write(b [][]byte, off int) (int, error) {
	for _, p := range b {
		d.bytes.Add(uint64(len(p) - off))
	}
	d.packets.Add(uint64(len(b)))
	return len(b), nil
}
func (d *countDevice) BatchSize() int { return 1 }
func (d *countDevice) Close() error   { d.once.Do(func() { close(d.done) }); return nil }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Reset empties the buffer and frees its memory.
func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = bytes.Buffer{}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lab is one in-process server and what a test needs to watch it.
type lab struct {
	srv    *server.Server
	client loadgen.Config
	dev    *countDevice
	logs   *syncBuffer // server slog output (text, debug level)
	clog   *syncBuffer // connection log (JSON lines)
	dir    string
	stop   func()
	// wrapKey is the tls-crypt key when the lab uses one.
	wrapKey statickey.Key
}

type labOpts struct {
	cidr       string
	listen     string // default 127.0.0.1:0
	tlsCrypt   bool
	handWindow time.Duration
	logLevel   slog.Level
	// connLog receives the connection log instead of the lab's in-memory
	// buffer (clog), e.g. a tally that keeps no lines.
	connLog io.Writer
	// tcp makes the server listen on TCP instead of UDP.
	tcp bool
	// device replaces the counting device (which never produces packets).
	device server.Device
}

// startLab runs a server on loopback with a counting device (no TUN, no
// root). It stops with the test.
func startLab(tb testing.TB, o labOpts) *lab {
	tb.Helper()
	if o.cidr == "" {
		o.cidr = "10.100.0.0/22"
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	dir := tb.TempDir()
	if _, err := export.InitLab(dir, export.InitOptions{Listen: o.listen, PKI: pki.Options{KeyType: pki.ECDSAP256}}); err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "server.toml")
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	doc := strings.Replace(string(b), `client_cidr = "10.100.0.0/22"`, `client_cidr = "`+o.cidr+`"`, 1)
	doc = strings.Replace(doc, `socket = "admin.sock"`, `socket = ""`, 1)
	doc = strings.Replace(doc, `path = "connections.log"`, `path = ""`, 1)
	if o.tcp {
		if !strings.Contains(doc, `transport = "udp"`) {
			tb.Fatalf("server.toml of the lab has no transport = \"udp\":\n%s", doc)
		}
		doc = strings.Replace(doc, `transport = "udp"`, `transport = "tcp"`, 1)
	}
	var wrapKey statickey.Key
	if o.tlsCrypt {
		key, err := statickey.New(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		wrapKey = key
		if err := os.WriteFile(filepath.Join(dir, "pki/tls-crypt.key"), key.PEM(), 0o600); err != nil {
			tb.Fatal(err)
		}
		doc = strings.Replace(doc, `tls_crypt = ""`, `tls_crypt = "pki/tls-crypt.key"`, 1)
	}
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		tb.Fatal(err)
	}
	c, err := config.Load(p)
	if err != nil {
		tb.Fatal(err)
	}
	if o.tcp && !c.TCP {
		tb.Fatalf("%s: transport is %q, want tcp", p, c.Transport)
	}
	l := &lab{dev: &countDevice{done: make(chan struct{})}, logs: &syncBuffer{}, clog: &syncBuffer{}, dir: dir}
	var dev server.Device = l.dev
	if o.device != nil {
		dev = o.device
	}
	ready := make(chan server.Info, 1)
	logger := slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: o.logLevel}))
	var clog io.Writer = l.clog
	if o.connLog != nil {
		clog = o.connLog
	}
	l.srv, err = server.New(c, server.Options{Device: dev, Logger: logger, ConnLog: clog, HandWindow: o.handWindow,
		Ready: func(i server.Info) { ready <- i }})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- l.srv.Run(ctx) }()
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					tb.Error(err)
				}
			case <-time.After(30 * time.Second):
				tb.Error("server did not stop within 30 s")
			}
		})
	}
	tb.Cleanup(l.stop)
	var info server.Info
	select {
	case info = <-ready:
	case err := <-errc:
		tb.Fatal(err)
	case <-time.After(20 * time.Second):
		tb.Fatal("server not ready within 20 s")
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki/client1.crt"), filepath.Join(dir, "pki/client1.key"))
	if err != nil {
		tb.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki/ca.crt"))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	l.client = loadgen.Config{Server: info.Listen,
		TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "server"}}
	if o.tlsCrypt {
		l.wrapKey = wrapKey
		l.client.Wrapper = func() (tlswrap.Wrapper, error) {
			return tlswrap.NewTLSCrypt(wrapKey, wire.RoleClient, time.Now)
		}
	}
	return l
}

// metric returns one value of the server's Prometheus text.
func (l *lab) metric(tb testing.TB, name string) float64 {
	tb.Helper()
	var b bytes.Buffer
	if err := l.srv.WriteMetrics(&b); err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				tb.Fatal(err)
			}
			return v
		}
	}
	tb.Fatalf("metric %s not found in:\n%s", name, b.String())
	return 0
}

// entries parses the connection log.
func (l *lab) entries(tb testing.TB) []connlog.Entry {
	tb.Helper()
	var out []connlog.Entry
	for _, line := range strings.Split(strings.TrimSpace(l.clog.String()), "\n") {
		if line == "" {
			continue
		}
		var e connlog.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			tb.Fatalf("connection log line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// snapshot is the process's resource use at one moment.
type snapshot struct {
	goroutines int
	fds        int
	heap       uint64
}

func takeSnapshot(tb testing.TB) snapshot {
	tb.Helper()
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	ents, err := os.ReadDir("/proc/self/fd")
	fds := -1
	if err == nil {
		fds = len(ents)
	}
	return snapshot{goroutines: runtime.NumGoroutine(), fds: fds, heap: m.HeapInuse}
}

// settle waits (bounded) until the goroutine count drops to at most want.
func settle(want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls cond (bounded) and reports whether it became true.
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }

// dialAndLeave opens a session, tells the server it ends and closes it.
func dialAndLeave(ctx context.Context, cfg loadgen.Config) error {
	s, err := loadgen.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := s.OpenData()
	if err != nil {
		return err
	}
	return d.SendExit()
}

// released closes nothing itself: after the test has closed its sockets it
// waits (bounded) until the goroutines are back within slack of before,
// checks goroutines and file descriptors against that bound, and returns
// the goroutine count and the snapshot it took.
func released(t *testing.T, before snapshot, slack int) (int, snapshot) {
	t.Helper()
	g := settle(before.goroutines+slack, 5*time.Second)
	after := takeSnapshot(t)
	if g > before.goroutines+slack {
		t.Errorf("goroutines %d before, %d after", before.goroutines, g)
	}
	if after.fds > before.fds+slack {
		t.Errorf("fds %d before, %d after", before.fds, after.fds)
	}
	return g, after
}

// failedEntries waits (bounded, 5 s) until the connection log holds want
// failed attempts (a session leaves the connection table before its end
// entry is written) and returns how many it holds.
func (l *lab) failedEntries(tb testing.TB, want int) int {
	tb.Helper()
	n := 0
	waitFor(5*time.Second, func() bool {
		n = 0
		for _, e := range l.entries(tb) {
			if e.AttemptStatus == connlog.StatusFailed {
				n++
			}
		}
		return n >= want
	})
	return n
}
