package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
)

// serverDirEnv makes the test binary run a server from that lab folder
// (TestServerProcess), so that its memory can be measured apart from the
// clients.
const serverDirEnv = "CVPN_LOADGEN_SERVER_DIR"

// labDir writes a lab folder with a server.toml for cidr on 127.0.0.1.
func labDir(tb testing.TB, cidr string) string {
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
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func clientTLS(tb testing.TB, dir string) *tls.Config {
	tb.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki/client1.crt"), filepath.Join(dir, "pki/client1.key"))
	if err != nil {
		tb.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "pki/ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "server"}
}

// TestServerProcess is the server side of BenchmarkServerIdleSessions: it
// runs only in a child process started with serverDirEnv, prints
// "listening <addr>", then serves until its stdin closes. A line "heap
// <file>" on stdin writes a heap profile after a GC.
func TestServerProcess(t *testing.T) {
	dir := os.Getenv(serverDirEnv)
	if dir == "" {
		t.Skip("runs only as the child process of BenchmarkServerIdleSessions")
	}
	c, err := config.Load(filepath.Join(dir, "server.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan server.Info, 1)
	srv, err := server.New(c, server.Options{Device: &discard{done: make(chan struct{})}, Ready: func(i server.Info) { ready <- i }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Run(ctx) }()
	select {
	case info := <-ready:
		fmt.Printf("listening %s\n", info.Listen)
	case err := <-errc:
		t.Fatal(err)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if f, ok := strings.CutPrefix(sc.Text(), "heap "); ok {
			runtime.GC()
			w, err := os.Create(f)
			if err == nil {
				_ = pprof.WriteHeapProfile(w)
				w.Close()
			}
			fmt.Println("heap written")
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// vmRSSKB reads a process's resident memory.
func vmRSSKB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkServerIdleSessions runs the server in a child process, opens
// 1,000 sessions from this one and reports the server's resident memory
// per idle session. CVPN_LOADGEN_HEAP=file also writes the server's heap
// profile with the sessions open.
func BenchmarkServerIdleSessions(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	const n = 1000
	for i := 0; i < b.N; i++ {
		dir := labDir(b, "10.96.0.0/12")
		cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$", "-test.v=false")
		cmd.Env = append(os.Environ(), serverDirEnv+"="+dir)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		out := bufio.NewScanner(stdout)
		var addr netip.AddrPort
		for out.Scan() {
			if a, ok := strings.CutPrefix(out.Text(), "listening "); ok {
				addr = netip.MustParseAddrPort(a)
				break
			}
		}
		if !addr.IsValid() {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal("server process did not start")
		}
		cfg := Config{Server: addr, TLS: clientTLS(b, dir)}
		time.Sleep(200 * time.Millisecond)
		rss0 := vmRSSKB(cmd.Process.Pid)
		start := time.Now()
		sessions, err := DialMany(cfg, n, 16, 60*time.Second)
		elapsed := time.Since(start)
		if err != nil {
			b.Error(err)
		}
		time.Sleep(2 * time.Second) // let the sessions settle
		rss1 := vmRSSKB(cmd.Process.Pid)
		if f := os.Getenv("CVPN_LOADGEN_HEAP"); f != "" {
			fmt.Fprintf(stdin, "heap %s\n", f)
			out.Scan()
		}
		b.ReportMetric(float64(rss1-rss0)/n, "server-RSS-KiB/session")
		b.ReportMetric(float64(rss1)/1024, "server-RSS-MiB")
		b.ReportMetric(n/elapsed.Seconds(), "handshakes/s-concurrent")
		for _, s := range sessions {
			if s != nil {
				s.Close()
			}
		}
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}
