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
)

// daemonUID is the unprivileged user of the daemon benchmark (nobody; no
// passwd entry is needed by setpriv).
const daemonUID = 65534

// TestDaemonConnectBenchmark compares, against our server in the lab, an
// unprivileged `cvpn connect` through a running daemon with a direct root
// `cvpn connect`: process start to the connected event, alternately.
func TestDaemonConnectBenchmark(t *testing.T) {
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("set CVPN_BENCH=1 (make bench) to run the daemon connect benchmark")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "setpriv")
	dir, err := os.MkdirTemp("", "cvpn-bench-daemon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cvpn")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cvpn/cvpn/cmd/cvpn").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	userHome := filepath.Join(dir, "home-user")
	if err := os.Mkdir(userHome, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(userHome, daemonUID, daemonUID); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "run", "cvpn.sock")
	lab := nstest.New(t, nstest.Options{})
	srv := startCvpnServer(t, bin, lab, "udp", "AES-256-GCM")
	pf := filepath.Join(dir, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(srv.prof), 0o644); err != nil {
		t.Fatal(err)
	}
	d := nstest.Start(t, lab.Client, "env", "CVPN_HOME="+filepath.Join(dir, "root-home"), "CVPN_SOCKET="+socket, bin, "daemon")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.WaitFor(ctx, "cvpn daemon listening"); err != nil {
		t.Fatalf("daemon did not start: %v", err)
	}
	direct := []string{"ip", "netns", "exec", lab.Client, "env", "CVPN_HOME=" + filepath.Join(dir, "root-direct"), bin, "connect", pf, "--json"}
	viaDaemon := []string{"ip", "netns", "exec", lab.Client, "setpriv", fmt.Sprintf("--reuid=%d", daemonUID), fmt.Sprintf("--regid=%d", daemonUID), "--clear-groups",
		"env", "CVPN_SOCKET=" + socket, "CVPN_HOME=" + userHome, "HOME=" + userHome, bin, "connect", pf, "--json"}
	runs := 7
	var dd, dr []time.Duration
	for i := 0; i < runs; i++ {
		dr = append(dr, timedConnect(t, direct))
		dd = append(dd, timedConnect(t, viaDaemon))
	}
	inDaemon := daemonSideTimes(t, filepath.Join(dir, "root-home"))
	t.Logf("direct root connect: %v", dr)
	t.Logf("through the daemon:  %v", dd)
	t.Logf("in the daemon:       %v", inDaemon)
	section := "## Connect through the daemon\n\n" +
		fmt.Sprintf("Process start to the `connected` event against our server in the lab (cert profile exported by it, UDP, tls-crypt), %d runs each, alternately: a direct root `cvpn connect`, and an unprivileged `cvpn connect` (uid %d) through a running `cvpn daemon`.\n\n", runs, daemonUID) +
		"| Path | Median | Min | Max |\n|---|---|---|---|\n" +
		"| direct (root) | " + spreadOf(dr).cells() + " |\n" +
		"| through the daemon | " + spreadOf(dd).cells() + " |\n"
	if len(inDaemon) > 0 {
		section += "| of which in the daemon (request to connected, its log) | " + spreadOf(inDaemon).cells() + " |\n" +
			"\nThe rest of a daemon connect is the front end's own start (a new `cvpn` process: Go runtime, profile parse, socket dial); the GUI's front end is already running.\n"
	}
	writeSection(t, "## Connect through the daemon", section)
}

// timedConnect runs argv (a `cvpn connect --json`) until its connected
// event and returns the time from process start; then it disconnects
// (SIGTERM) and waits for the process to end.
func timedConnect(t *testing.T, argv []string) time.Duration {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan time.Duration, 1)
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"state":"connected"`) {
				select {
				case found <- time.Since(start):
				default:
				}
			}
			out.WriteString(sc.Text() + "\n")
		}
	}()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	select {
	case d := <-found:
		return d
	case <-exited:
		t.Fatalf("%s exited before connecting", strings.Join(argv, " "))
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not connect within 30 s", strings.Join(argv, " "))
	}
	return 0
}

// daemonSideTimes reads the daemon's connection logs under home and
// returns, per connect, the time from "connect requested" to the connected
// event (millisecond timestamps).
func daemonSideTimes(t *testing.T, home string) []time.Duration {
	t.Helper()
	var files []string
	_ = filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log") && strings.Contains(p, "logs") {
			files = append(files, p)
		}
		return nil
	})
	stamp := func(line string) (time.Time, bool) {
		f, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		ts, err := time.Parse(time.RFC3339Nano, f)
		return ts, err == nil
	}
	var out []time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var req time.Time
		for _, line := range strings.Split(string(b), "\n") {
			ts, ok := stamp(line)
			switch {
			case !ok:
			case strings.Contains(line, `msg="connect requested"`):
				req = ts
			case strings.Contains(line, "state=connected") && !req.IsZero():
				out = append(out, ts.Sub(req))
				req = time.Time{}
			}
		}
	}
	return out
}
