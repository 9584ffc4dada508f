package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// stampedLine is one line of a client's output with the time since the
// client process started.
type stampedLine struct {
	at   time.Duration
	text string
}

// TestConnectTimeline connects our client and the OpenVPN client to the
// same OpenVPN 2.6 server several times each (alternately) and logs the
// median connect time of both and, for our client's median run, every
// log line with its time since process start: where the connect time goes.
func TestConnectTimeline(t *testing.T) {
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("set CVPN_BENCH=1 (make bench) to run the connect timeline")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn")
	opts := benchOptionsFromEnv(t)
	bin := buildCvpn(t)
	if w := os.Getenv("CVPN_BENCH_WRAP"); w != "" {
		// A script that runs the cvpn binary under a tracer (strace -f,
		// perf, GODEBUG settings); see bench/doc.go.
		bin = w
	}
	lab := nstest.New(t, nstest.Options{})
	srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Proto: "udp",
		DataCiphers: []string{"AES-256-GCM"}, Wrap: openvpnpeer.WrapTLSCrypt})
	prof, err := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
	if err != nil {
		t.Fatal(err)
	}
	// Connects are short and vary by a few ms with the machine's load; 11
	// runs each give a steady median.
	runs := max(opts.runs, 11)
	var ours, theirs []time.Duration
	var timelines [][]stampedLine
	for i := 0; i < runs; i++ {
		d, lines := connectOnce(t, bin, lab, prof)
		ours = append(ours, d)
		timelines = append(timelines, lines)
		c := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: lab.Client, Profile: prof})
		theirs = append(theirs, c.ConnectTime)
		c.Stop()
	}
	mo, mt := medianDuration(ours), medianDuration(theirs)
	t.Logf("connect time over %d runs: cvpn median %v (all %v); openvpn 2.6 median %v (all %v)", runs, mo, ours, mt, theirs)
	best := 0
	for i, d := range ours {
		if d == mo {
			best = i
		}
	}
	var b strings.Builder
	for _, l := range timelines[best] {
		fmt.Fprintf(&b, "%8.1f ms  %s\n", float64(l.at.Microseconds())/1000, l.text)
	}
	t.Logf("cvpn timeline of the median run:\n%s", b.String())

	// Where the difference comes from: the cost of starting each program
	// (exec, runtime and library initialisation, exit) with nothing to do,
	// started the same way as for the connect, and our client's phases.
	empty := buildGo(t, "github.com/cvpn/cvpn/bench/emptyprog")
	var ourStart, theirStart, goStart []time.Duration
	for i := 0; i < runs; i++ {
		ourStart = append(ourStart, timeRun(t, "ip", "netns", "exec", lab.Client, bin, "version"))
		theirStart = append(theirStart, timeRun(t, "ip", "netns", "exec", lab.Client, "openvpn", "--version"))
		goStart = append(goStart, timeRun(t, "ip", "netns", "exec", lab.Client, empty))
	}
	phases, err := connectPhases(timelines)
	if err != nil {
		t.Fatal(err)
	}
	section := connectSection(runs, ours, theirs, ourStart, theirStart, medianDuration(goStart), phases)
	writeSection(t, connectSectionTitle, section)
}

const connectSectionTitle = "## Connect time: where it goes"

// connectMarks are the lines of `cvpn connect --json --verbose` that end
// each phase of a connection, in order.
var connectMarks = []struct{ match, phase string }{
	{`"state":"resolving"`, "process start to first state (runtime and package initialisation, profile, state directory)"},
	{`msg="server answered hard reset"`, "client set-up, socket, hard reset and the server's answer"},
	{`msg="TLS established"`, "TLS 1.3 handshake with client certificate"},
	{`"state":"configuring"`, "key exchange (key-method 2) and pushed options"},
	{`"state":"connected"`, "tunnel device, addresses, routes and DNS"},
}

// connectPhases returns, for each of connectMarks, the median time that
// phase took over the runs' timelines (a phase is from the previous mark,
// or process start, to its own mark). A timeline without one of the marks
// is an error: the client's log no longer says what the table assumes.
func connectPhases(timelines [][]stampedLine) ([]time.Duration, error) {
	per := make([][]time.Duration, len(connectMarks))
	for run, tl := range timelines {
		var prev time.Duration
		for i, m := range connectMarks {
			found := false
			for _, l := range tl {
				if strings.Contains(l.text, m.match) {
					per[i] = append(per[i], l.at-prev)
					prev = l.at
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("run %d: no line with %s in the client's output (phase %q)", run+1, m.match, m.phase)
			}
		}
	}
	med := make([]time.Duration, len(per))
	for i, v := range per {
		med[i] = medianDuration(v)
	}
	return med, nil
}

// connectSection renders the results.md section of TestConnectTimeline.
func connectSection(runs int, ours, theirs, ourStart, theirStart []time.Duration, goStart time.Duration, phases []time.Duration) string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nMeasured on %s, %s; median of %d runs each, alternating. Both clients connect to the same OpenVPN 2.6 server (UDP, AES-256-GCM, tls-crypt, RSA-2048 certificate auth) and are started the same way (`ip netns exec NS BINARY`); connect = process start to the connected state.\n",
		connectSectionTitle, hostInfo(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), runs)
	b.WriteString("Start-up = the same program started the same way with nothing to do (`cvpn version`, `openvpn --version`): exec, runtime and library initialisation, exit.\n\n")
	b.WriteString("| client | connect ms | start-up ms | connect minus start-up ms |\n|---|---:|---:|---:|\n")
	for _, c := range []struct {
		name         string
		conn, starts []time.Duration
	}{{"cvpn", ours, ourStart}, {"openvpn 2.6", theirs, theirStart}} {
		mc, mst := medianDuration(c.conn), medianDuration(c.starts)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.name, ms(mc), ms(mst), ms(mc-mst))
	}
	fmt.Fprintf(&b, "\nAn empty Go program (bench/emptyprog) started the same way takes %s ms: the Go runtime's floor on this machine; the rest of cvpn's start-up is mostly package initialisation and the page faults of a larger binary (its one binary holds the client, the daemon and the reference server with its SAML and TOML libraries, product.md).\n", ms(goStart))
	b.WriteString("\nOur client's phases (median of each over the runs, from its verbose log):\n\n| phase | ms |\n|---|---:|\n")
	for i, m := range connectMarks {
		fmt.Fprintf(&b, "| %s | %s |\n", m.phase, ms(phases[i]))
	}
	return b.String()
}

// timeRun runs a command to completion and returns its wall time.
func timeRun(t *testing.T, name string, args ...string) time.Duration {
	t.Helper()
	cmd := exec.Command(name, args...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

// connectOnce starts `cvpn connect --verbose --json`, waits for the
// connected event and stops the client; it returns the connect time and
// the time-stamped output.
func connectOnce(t *testing.T, bin string, lab *nstest.Lab, prof string) (time.Duration, []stampedLine) {
	t.Helper()
	home := t.TempDir()
	pf := filepath.Join(home, "bench.ovpn")
	if err := os.WriteFile(pf, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Started exactly like the OpenVPN client (`ip netns exec NS BINARY`);
	// `ip netns exec` passes the environment on.
	cmd := exec.Command("ip", "netns", "exec", lab.Client, bin, "connect", pf, "--json", "--verbose")
	cmd.Env = append(os.Environ(), "CVPN_HOME="+home)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan stampedLine, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- stampedLine{time.Since(start), sc.Text()}
		}
	}()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	var out []stampedLine
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("cvpn exited before connecting:\n%v", out)
			}
			out = append(out, l)
			if strings.Contains(l.text, `"state":"connected"`) {
				return l.at, out
			}
		case <-ctx.Done():
			t.Fatalf("cvpn did not connect within 30 s:\n%v", out)
		}
	}
}
