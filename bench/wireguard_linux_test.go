package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

const (
	wgSectionTitle = "## Our client + server against wireguard-go (stretch)"
	wgModule       = "golang.zx2c4.com/wireguard"
	wgGoal         = 0.6 // issue 9: cvpn / wireguard-go, both directions
	wgListenPort   = 51820
	wgMTU          = "1420"
	wgUAPIDir      = "/var/run/wireguard"
)

var (
	wgServerAddr = netip.MustParsePrefix("10.99.0.1/24")
	wgClientAddr = netip.MustParsePrefix("10.99.0.2/24")
)

// wgBuild is the pinned wireguard-go built for the run.
type wgBuild struct {
	bin     string
	module  string // pseudo-version from go.mod
	version string // what the binary says (wireguard-go --version)
}

// buildWireguardGo builds the wireguard-go main package at the version
// go.mod pins into a temporary directory.
func buildWireguardGo(t *testing.T) wgBuild {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wireguard-go")
	if out, err := exec.Command("go", "build", "-o", bin, wgModule).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", wgModule, err, out)
	}
	mod, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", wgModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", wgModule, err)
	}
	ver, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(ver)), "\n")
	return wgBuild{bin: bin, module: strings.TrimSpace(string(mod)), version: strings.TrimSpace(first)}
}

// wgIface is a wireguard-go process serving one interface in a namespace.
type wgIface struct {
	p     *nstest.Proc
	name  string
	sock  string
	start time.Time
	up    time.Duration // from process start to the first echo reply through the tunnel (clients only)
}

func (w *wgIface) pid() int                   { return w.p.PID() }
func (w *wgIface) connectTime() time.Duration { return w.up }
func (w *wgIface) stop()                      { _ = w.p.Stop(5 * time.Second) }

// wgIfaceName is prefix plus a random suffix (interface names are global
// in the UAPI directory, so they must not collide across namespaces).
func wgIfaceName(t *testing.T, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:]) // at most 15 bytes with a short prefix
}

// startWireguardGo runs wireguard-go in the foreground in ns, configures it
// through its UAPI socket, gives the interface addr and MTU 1420 and sets
// it up. The process is stopped by PID in t.Cleanup.
func startWireguardGo(t *testing.T, bin, ns, name string, addr netip.Prefix, cfg wgConfig) *wgIface {
	t.Helper()
	sock := filepath.Join(wgUAPIDir, name+".sock")
	w := &wgIface{name: name, sock: sock, start: time.Now()}
	w.p = nstest.Start(t, ns, "env", "WG_PROCESS_FOREGROUND=1", "LOG_LEVEL=error", bin, "-f", name)
	t.Cleanup(func() {
		_ = w.p.Stop(5 * time.Second)
		_ = os.Remove(sock) // wireguard-go removes it itself on a clean exit
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if w.p.Exited() {
			t.Fatalf("wireguard-go %s in %s exited (%s) before creating %s:\n%s", name, ns, w.p.ExitStatus(), sock, w.p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("wireguard-go %s in %s: no UAPI socket %s after 10 s:\n%s", name, ns, sock, w.p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := uapiConfigure(sock, cfg, 5*time.Second); err != nil {
		t.Fatalf("configure %s in %s: %v\n%s", name, ns, err, w.p.Output())
	}
	nstest.MustRun(t, ns, "ip", "addr", "add", addr.String(), "dev", name)
	nstest.MustRun(t, ns, "ip", "link", "set", "dev", name, "mtu", wgMTU, "up")
	return w
}

// wgLab is a wireguard-go server in a lab's server namespace and what a
// client needs to reach it.
type wgLab struct {
	bin       string
	lab       *nstest.Lab
	srv       *wgIface
	clientKey wgKey
	serverPub []byte
}

func startWGServer(t *testing.T, bin string, lab *nstest.Lab) *wgLab {
	t.Helper()
	sk, err := newWGKey()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := newWGKey()
	if err != nil {
		t.Fatal(err)
	}
	peer := netip.PrefixFrom(wgClientAddr.Addr(), 32)
	srv := startWireguardGo(t, bin, lab.Server, wgIfaceName(t, "wgs"), wgServerAddr, wgConfig{
		priv: sk.priv, listenPort: wgListenPort,
		peers: []wgPeer{{pub: ck.pub, allowedIP: peer.String()}},
	})
	return &wgLab{bin: bin, lab: lab, srv: srv, clientKey: ck, serverPub: sk.pub}
}

// startWGClient starts a wireguard-go client in the lab's client namespace
// and waits until the server's tunnel address answers a ping.
func (l *wgLab) startWGClient(t *testing.T) tunnelClient {
	t.Helper()
	c := startWireguardGo(t, l.bin, l.lab.Client, wgIfaceName(t, "wgc"), wgClientAddr, wgConfig{
		priv: l.clientKey.priv,
		peers: []wgPeer{{pub: l.serverPub, endpoint: netip.AddrPortFrom(nstest.ServerIP, wgListenPort).String(),
			allowedIP: wgServerAddr.Masked().String(), keepalive: 25}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, l.lab.Client, wgServerAddr.Addr()); err != nil {
		t.Fatalf("wireguard-go tunnel %s -> %s: %v\nclient:\n%s\nserver:\n%s", c.name, l.srv.name, err, c.p.Output(), l.srv.p.Output())
	}
	c.up = time.Since(c.start)
	return c
}

// wgRow is one cvpn cipher measured alternately with the wireguard-go pair.
type wgRow struct {
	cipher   string
	cvpn, wg []serverSample
}

// TestWireguardBenchmark is the stretch row of issue 9: our client + our
// server over UDP against a wireguard-go pair (the pinned version from
// go.mod) in the same lab topology, alternating runs, goal 0.6x. It writes
// its section into results.md.
func TestWireguardBenchmark(t *testing.T) {
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("set CVPN_BENCH=1 (make bench) to run the wireguard-go benchmark")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "iperf3", "ping")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("wireguard-go needs /dev/net/tun: %v", err)
	}
	if err := os.MkdirAll(wgUAPIDir, 0o755); err != nil {
		t.Fatalf("UAPI directory: %v", err)
	}
	opts := benchOptionsFromEnv(t)
	bin := buildCvpn(t)
	srvBin := bin
	if v := os.Getenv("CVPN_BENCH_SERVER_BIN"); v != "" {
		srvBin = v
	}
	wg := buildWireguardGo(t)
	var rows []wgRow
	for _, cipher := range []string{"AES-256-GCM", "CHACHA20-POLY1305"} {
		if opts.only != "" && opts.only != "udp/"+cipher {
			continue
		}
		r := wgRow{cipher: cipher}
		lab := nstest.New(t, nstest.Options{})
		wl := startWGServer(t, wg.bin, lab)
		wgIperf := nstest.Start(t, lab.Server, "iperf3", "-s", "-B", wgServerAddr.Addr().String())
		cs := startCvpnServer(t, srvBin, lab, "udp", cipher)
		csIperf := nstest.Start(t, lab.Server, "iperf3", "-s", "-B", cvpnServerTunnelIP.String())
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < opts.runs; i++ {
			wgRun := func() {
				r.wg = append(r.wg, measurePair(t, lab, wgServerAddr.Addr(), wl.srv.pid(), wl.startWGClient(t),
					serverPerf(opts, "wireguard-go", "udp", cipher, i)))
			}
			cvRun := func() {
				r.cvpn = append(r.cvpn, measurePair(t, lab, cvpnServerTunnelIP, cs.p.PID(), startCvpn(t, bin, lab, cs.prof),
					serverPerf(opts, "cvpn-cvpn-vs-wg", "udp", cipher, i)))
			}
			if i%2 == 0 {
				wgRun()
				cvRun()
			} else {
				cvRun()
				wgRun()
			}
		}
		csIperf.Stop(2 * time.Second)
		wgIperf.Stop(2 * time.Second)
		cs.p.Stop(5 * time.Second)
		wl.srv.stop()
		lab.Close()
		rows = append(rows, r)
		t.Logf("udp %s: cvpn up %.0f down %.0f Mbit/s; wireguard-go up %.0f down %.0f Mbit/s (tunnel up after %v)", cipher,
			medianS(r.cvpn, func(s serverSample) float64 { return s.upMbps }), medianS(r.cvpn, func(s serverSample) float64 { return s.downMbps }),
			medianS(r.wg, func(s serverSample) float64 { return s.upMbps }), medianS(r.wg, func(s serverSample) float64 { return s.downMbps }),
			time.Duration(medianS(r.wg, func(s serverSample) float64 { return float64(s.connect) })).Round(time.Millisecond))
	}
	if len(rows) == 0 {
		t.Skipf("CVPN_BENCH_ONLY=%s selects no UDP row", opts.only)
	}
	section := wgSection(wg, hostInfo(), time.Now().UTC(), opts.runs, rows)
	writeSection(t, wgSectionTitle, section)
}

// wgSection renders the results.md section for rows.
func wgSection(wg wgBuild, host string, now time.Time, runs int, rows []wgRow) string {
	var b strings.Builder
	b.WriteString(wgSectionTitle + "\n\n")
	fmt.Fprintf(&b, "Measured on %s, %s; median of %d runs. Reference: %s (module %s@%s as pinned in go.mod, built by the test through the module proxy).\n",
		host, now.Format("2006-01-02 15:04 UTC"), runs, wg.version, wgModule, wg.module)
	b.WriteString("Same lab topology as above: a wireguard-go pair (server in the server namespace, client in the client namespace, MTU 1420, ")
	b.WriteString("configured through the UAPI socket) and our client + our server over UDP, measured alternately in one lab per row ")
	b.WriteString("with iperf3 (TCP inside the tunnel, 4 s per direction). WireGuard always uses ChaCha20-Poly1305.\n")
	fmt.Fprintf(&b, "Ratio = cvpn / wireguard-go in the same row; goal (issue 9, stretch): %.1fx or better in both directions.\n\n", wgGoal)
	b.WriteString("| transport | cvpn cipher | pair | upload Mbit/s | download Mbit/s | ratio up | ratio down | server CPU s/GB up | server CPU s/GB down | client CPU s/GB up | client CPU s/GB down |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var verdicts []string
	for _, r := range rows {
		wu := medianS(r.wg, func(s serverSample) float64 { return s.upMbps })
		wd := medianS(r.wg, func(s serverSample) float64 { return s.downMbps })
		cu := medianS(r.cvpn, func(s serverSample) float64 { return s.upMbps })
		cd := medianS(r.cvpn, func(s serverSample) float64 { return s.downMbps })
		ru, rd := ratio(cu, wu), ratio(cd, wd)
		for _, p := range []struct {
			name   string
			s      []serverSample
			ru, rd float64
		}{{"cvpn client + cvpn server", r.cvpn, ru, rd}, {"wireguard-go pair", r.wg, 1, 1}} {
			fmt.Fprintf(&b, "| udp | %s | %s | %.0f | %.0f | %.2fx | %.2fx | %.1f | %.1f | %.1f | %.1f |\n", r.cipher, p.name,
				medianS(p.s, func(s serverSample) float64 { return s.upMbps }), medianS(p.s, func(s serverSample) float64 { return s.downMbps }),
				p.ru, p.rd,
				medianS(p.s, func(s serverSample) float64 { return s.srvUp }), medianS(p.s, func(s serverSample) float64 { return s.srvDown }),
				medianS(p.s, func(s serverSample) float64 { return s.cpuUp }), medianS(p.s, func(s serverSample) float64 { return s.cpuDown }))
		}
		verdict := "met"
		if ru < wgGoal || rd < wgGoal {
			verdict = "not met"
		}
		verdicts = append(verdicts, fmt.Sprintf("%s %s (%.2fx up, %.2fx down)", r.cipher, verdict, ru, rd))
	}
	fmt.Fprintf(&b, "\nGoal %.1fx: %s.\n", wgGoal, strings.Join(verdicts, "; "))
	b.WriteString("CPU s/GB: CPU seconds (user + system) of the server and client process per GB moved in that direction.\n")
	return b.String()
}

// ratio is a/b, 0 when b is 0 (no reference figure).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
