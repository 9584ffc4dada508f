package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/openvpntest"
	"github.com/cvpn/cvpn/platform/nstest"
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
	srv := openvpntest.StartServer(t, openvpntest.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Proto: "udp",
		DataCiphers: []string{"AES-256-GCM"}, Wrap: openvpntest.WrapTLSCrypt})
	prof, err := srv.ClientProfile(openvpntest.ProfileOptions{ClientCert: "client1"})
	if err != nil {
		t.Fatal(err)
	}
	runs := max(opts.runs, 5)
	var ours, theirs []time.Duration
	var timelines [][]stampedLine
	for i := 0; i < runs; i++ {
		d, lines := connectOnce(t, bin, lab, prof)
		ours = append(ours, d)
		timelines = append(timelines, lines)
		c := openvpntest.Connect(t, openvpntest.ClientConfig{NS: lab.Client, Profile: prof})
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

func medianDuration(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
