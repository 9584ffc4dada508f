package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
	"github.com/cvpn/cvpn/ovpn/server/export"
)

// cvpnServerTunnelIP is the first address of the lab server's client_cidr.
var cvpnServerTunnelIP = netip.MustParseAddr("10.100.0.1")

// labCvpnServer is `cvpn server run` in the lab's server namespace.
type labCvpnServer struct {
	p    *nstest.Proc
	prof string
}

// startCvpnServer starts our server with tls-crypt, one data cipher and
// transport, and returns it with a client profile.
func startCvpnServer(t *testing.T, bin string, lab *nstest.Lab, transport, cipher string) *labCvpnServer {
	t.Helper()
	dir := t.TempDir()
	// Port 1195: the OpenVPN server of the same lab listens on 1194.
	listen := nstest.ServerIP.String() + ":1195"
	if _, err := export.InitLab(dir, export.InitOptions{PublicAddress: nstest.ServerIP.String(), Listen: listen}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "server.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range [][2]string{
		{`transport = "udp"`, fmt.Sprintf("transport = %q", transport)},
		{`data_ciphers = ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"]`, fmt.Sprintf("data_ciphers = [%q]", cipher)},
		{`tls_crypt = ""`, `tls_crypt = "pki/tls-crypt.key"`},
		{`socket = "admin.sock"`, `socket = ""`},
		{`path = "connections.log"`, `path = ""`},
	} {
		if !strings.Contains(doc, r[0]) {
			t.Fatalf("generated server.toml has no %s", r[0])
		}
		doc = strings.Replace(doc, r[0], r[1], 1)
	}
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki/tls-crypt.key")); err != nil {
		t.Fatalf("lab PKI has no tls-crypt key: %v", err)
	}
	p := nstest.Start(t, lab.Server, bin, "server", "run", "--config", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("cvpn server did not start: %v\n%s", err, p.Output())
	}
	out, err := runOut(bin, "server", "export-client-config", "--config", cfg)
	if err != nil {
		t.Fatalf("export-client-config: %v", err)
	}
	return &labCvpnServer{p: p, prof: out}
}

// serverUnderTest is where a pair's traffic goes: the server's tunnel
// address, its process (for its CPU time and perf profiles) and a client
// profile for it.
type serverUnderTest struct {
	tunnelIP netip.Addr
	pid      int
	prof     string
}

// serverLab is one lab with an OpenVPN server (version v, port 1194) and
// our server (port 1195) side by side, each with an iperf3 server on its
// tunnel address, both using tls-crypt and one data cipher.
type serverLab struct {
	lab    *nstest.Lab
	ov, cv serverUnderTest
	close  func()
}

func startServerLab(t *testing.T, srvBin string, v openvpnpeer.Version, transport, cipher string) *serverLab {
	t.Helper()
	lab := nstest.New(t, nstest.Options{})
	ovs := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Proto: transport,
		DataCiphers: []string{cipher}, Wrap: openvpnpeer.WrapTLSCrypt, Version: v})
	ovProf, err := ovs.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
	if err != nil {
		t.Fatal(err)
	}
	ovIperf := nstest.Start(t, lab.Server, "iperf3", "-s", "-B", ovs.TunnelIP().String())
	cs := startCvpnServer(t, srvBin, lab, transport, cipher)
	csIperf := nstest.Start(t, lab.Server, "iperf3", "-s", "-B", cvpnServerTunnelIP.String())
	time.Sleep(200 * time.Millisecond)
	return &serverLab{
		lab: lab,
		ov:  serverUnderTest{tunnelIP: ovs.TunnelIP(), pid: ovs.Proc.PID(), prof: ovProf},
		cv:  serverUnderTest{tunnelIP: cvpnServerTunnelIP, pid: cs.p.PID(), prof: cs.prof},
		close: func() {
			csIperf.Stop(2 * time.Second)
			cs.p.Stop(5 * time.Second)
			ovIperf.Stop(2 * time.Second)
			ovs.Stop()
			lab.Close()
		},
	}
}

// serverSample is one measurement of a client/server pair.
type serverSample struct {
	sample
	srvUp, srvDown float64 // server CPU seconds per GB
}

// measurePair measures a connected client through a server whose tunnel
// address is at, recording the server process's CPU too; with perf set it
// records a profile of the server process for each direction.
func measurePair(t *testing.T, lab *nstest.Lab, at netip.Addr, srvPID int, c tunnelClient, perf string) serverSample {
	t.Helper()
	defer c.stop()
	var s serverSample
	s.connect = c.connectTime()
	time.Sleep(300 * time.Millisecond)
	c0, s0 := cpuSeconds(c.pid()), cpuSeconds(srvPID)
	stopUp := startPerf(t, srvPID, perf, "up")
	up, upBytes := iperf(t, lab, at, false)
	stopUp()
	c1, s1 := cpuSeconds(c.pid()), cpuSeconds(srvPID)
	stopDown := startPerf(t, srvPID, perf, "down")
	down, downBytes := iperf(t, lab, at, true)
	stopDown()
	c2, s2 := cpuSeconds(c.pid()), cpuSeconds(srvPID)
	s.upMbps, s.downMbps = up, down
	if gb := float64(upBytes) / 1e9; gb > 0 {
		s.cpuUp, s.srvUp = (c1-c0)/gb, (s1-s0)/gb
	}
	if gb := float64(downBytes) / 1e9; gb > 0 {
		s.cpuDown, s.srvDown = (c2-c1)/gb, (s2-s1)/gb
	}
	return s
}

// serverPerf is the profile prefix for the server of one pair and run
// (CVPN_BENCH_PERF), or "" when no profiles are asked for.
func serverPerf(o benchOptions, pair, transport, cipher string, run int) string {
	if o.perfDir == "" {
		return ""
	}
	return filepath.Join(o.perfDir, fmt.Sprintf("server-%s-%s-%s-%d", pair, transport, cipher, run))
}

func medianS(s []serverSample, f func(serverSample) float64) float64 {
	w := make([]sample, len(s))
	for i := range s {
		w[i] = s[i].sample
		w[i].cpuSecPerGB = f(s[i]) // carry the value through median
	}
	return median(w, func(x sample) float64 { return x.cpuSecPerGB })
}

// TestServerBenchmark measures our server: (a) our client + our server vs
// the OpenVPN client + the OpenVPN server, and (c) the OpenVPN client
// against our server vs against the OpenVPN server, all in one run, the
// three pairs taking turns. It writes its section into results.md (after
// TestTunnelBenchmark has written the file).
func TestServerBenchmark(t *testing.T) {
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("set CVPN_BENCH=1 (make bench) to run the server benchmark")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "iperf3")
	opts := benchOptionsFromEnv(t)
	bin := buildCvpn(t)
	srvBin := bin
	if v := os.Getenv("CVPN_BENCH_SERVER_BIN"); v != "" {
		srvBin = v // compare another build of the server (before/after)
	}
	type pair struct {
		name string
		s    []serverSample
	}
	type row struct {
		transport, cipher string
		pairs             []pair // cvpn+cvpn, openvpn+cvpn, openvpn+openvpn
	}
	var rows []row
	for _, transport := range []string{"udp", "tcp"} {
		for _, cipher := range []string{"AES-256-GCM", "CHACHA20-POLY1305"} {
			if opts.only != "" && opts.only != transport+"/"+cipher {
				continue
			}
			r := row{transport: transport, cipher: cipher,
				pairs: []pair{{name: "cvpn client + cvpn server"}, {name: "openvpn client + cvpn server"}, {name: "openvpn client + openvpn server"}}}
			// Both servers run in one lab (startServerLab), and the three
			// pairs take turns in every run, so that a busier moment of the
			// machine weighs on each pair alike.
			l := startServerLab(t, srvBin, openvpnpeer.V26, transport, cipher)
			for i := 0; i < opts.runs; i++ {
				r.pairs[2].s = append(r.pairs[2].s, measurePair(t, l.lab, l.ov.tunnelIP, l.ov.pid, startOpenVPN(t, l.lab, l.ov.prof),
					serverPerf(opts, "openvpn-openvpn", transport, cipher, i)))
				r.pairs[0].s = append(r.pairs[0].s, measurePair(t, l.lab, l.cv.tunnelIP, l.cv.pid, startCvpn(t, bin, l.lab, l.cv.prof),
					serverPerf(opts, "cvpn-cvpn", transport, cipher, i)))
				r.pairs[1].s = append(r.pairs[1].s, measurePair(t, l.lab, l.cv.tunnelIP, l.cv.pid, startOpenVPN(t, l.lab, l.cv.prof),
					serverPerf(opts, "openvpn-cvpn", transport, cipher, i)))
			}
			l.close()
			rows = append(rows, r)
			for _, p := range r.pairs {
				t.Logf("%s %s %s: up %.0f down %.0f Mbit/s", transport, cipher, p.name,
					medianS(p.s, func(s serverSample) float64 { return s.upMbps }), medianS(p.s, func(s serverSample) float64 { return s.downMbps }))
			}
		}
	}
	var b strings.Builder
	b.WriteString(serverSectionTitle + "\n\n")
	fmt.Fprintf(&b, "Measured on %s, %s; median of %d runs; both servers run side by side and the three pairs take turns in every run.\n", hostInfo(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), opts.runs)
	b.WriteString("(a) is the cvpn pair against the OpenVPN pair; (c) the OpenVPN client against our server vs against the OpenVPN server.\n\n")
	b.WriteString("| transport | cipher | pair | upload Mbit/s | download Mbit/s | ratio up | ratio down | server CPU s/GB up | server CPU s/GB down | client CPU s/GB up | client CPU s/GB down |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		ref := r.pairs[2].s
		ru := medianS(ref, func(s serverSample) float64 { return s.upMbps })
		rd := medianS(ref, func(s serverSample) float64 { return s.downMbps })
		for i, p := range r.pairs {
			tag := []string{"(a) ", "(c) ", ""}[i]
			u := medianS(p.s, func(s serverSample) float64 { return s.upMbps })
			d := medianS(p.s, func(s serverSample) float64 { return s.downMbps })
			fmt.Fprintf(&b, "| %s | %s | %s%s | %.0f | %.0f | %.2fx | %.2fx | %.1f | %.1f | %.1f | %.1f |\n", r.transport, r.cipher, tag, p.name, u, d, u/ru, d/rd,
				medianS(p.s, func(s serverSample) float64 { return s.srvUp }), medianS(p.s, func(s serverSample) float64 { return s.srvDown }),
				medianS(p.s, func(s serverSample) float64 { return s.cpuUp }), medianS(p.s, func(s serverSample) float64 { return s.cpuDown }))
		}
	}
	writeSection(t, serverSectionTitle, b.String())
}

const serverSectionTitle = "## Our server (cvpn server) against the OpenVPN 2.6 server"

// replaceSection writes section (starting with title) into the markdown
// file at path, replacing an earlier copy up to the next "## " heading.
func replaceSection(path, title, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	if i := strings.Index(doc, title); i >= 0 {
		rest := doc[i+len(title):]
		end := len(doc)
		if j := strings.Index(rest, "\n## "); j >= 0 {
			end = i + len(title) + j + 1
		}
		doc = doc[:i] + doc[end:]
	}
	doc = strings.TrimRight(doc, "\n")
	if doc != "" {
		doc += "\n\n"
	}
	return writeFileAtomic(path, doc+strings.TrimRight(section, "\n")+"\n")
}

// resultsPath is the file the benchmarks write: CVPN_BENCH_OUT, or
// results.md in this package's directory.
func resultsPath() string {
	if out := os.Getenv("CVPN_BENCH_OUT"); out != "" {
		return out
	}
	return "results.md"
}

// writeSection puts section (starting with title) into the results file
// and logs it.
func writeSection(t *testing.T, title, section string) {
	t.Helper()
	out := resultsPath()
	if err := replaceSection(out, title, section); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s:\n%s", out, section)
}

func runOut(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	return string(out), err
}
