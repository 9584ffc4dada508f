package netmon_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/login1test"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/platform/netmon"
)

// logWatch is a slog handler that lets a test wait for a message.
type logWatch struct {
	mu   sync.Mutex
	seen []string
	cond chan struct{} // closed and replaced on every record
}

func newLogWatch() *logWatch { return &logWatch{cond: make(chan struct{})} }

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *logWatch) WithGroup(string) slog.Handler            { return w }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, r.Message)
	close(w.cond)
	w.cond = make(chan struct{})
	return nil
}

// wait waits up to 10s for a record whose message contains msg.
func (w *logWatch) wait(t *testing.T, msg string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		for _, s := range w.seen {
			if strings.Contains(s, msg) {
				w.mu.Unlock()
				return
			}
		}
		cond := w.cond
		w.mu.Unlock()
		select {
		case <-cond:
		case <-deadline:
			t.Fatalf("no log message %q within 10s", msg)
		}
	}
}

// run starts a monitor and stops it (bounded) when the test ends.
func run(t *testing.T, opts netmon.Options) (*netmon.Monitor, *logWatch) {
	t.Helper()
	lw := newLogWatch()
	opts.Logger = slog.New(lw)
	m, err := netmon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
	lw.wait(t, "network state") // the baseline
	return m, lw
}

func ip(t *testing.T, ns string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := nstest.Run(ctx, ns, append([]string{"ip"}, args...)...); err != nil {
		t.Fatal(err)
	}
}

// within waits for the next change, at most d.
func within(t *testing.T, m *netmon.Monitor, d time.Duration) netmon.Change {
	t.Helper()
	select {
	case c := <-m.Changes():
		return c
	case <-time.After(d):
		t.Fatalf("no change within %v", d)
		return netmon.Change{}
	}
}

func quiet(t *testing.T, m *netmon.Monitor, d time.Duration) {
	t.Helper()
	select {
	case c := <-m.Changes():
		t.Fatalf("unexpected change %+v", c)
	case <-time.After(d):
	}
}

// bound is how soon a change must arrive: the 150ms coalescing window
// plus room for a loaded machine.
const bound = 2 * time.Second

func TestAddressMoveOnTheLink(t *testing.T) {
	lab := nstest.New(t, nstest.Options{ClientDefaultRoute: true})
	m, _ := run(t, netmon.Options{NetNSPath: filepath.Join("/var/run/netns", lab.Client), NoLogind: true})
	// As a DHCP renewal with a new address does it: the old address goes
	// (and the default route with it), the new one comes, the default
	// route is added again. The burst may be reported as one change or,
	// on a loaded machine, as two; together they must say what happened.
	start := time.Now()
	ip(t, lab.Client, "addr", "del", "198.18.0.1/24", "dev", nstest.ClientDev)
	ip(t, lab.Client, "addr", "add", "198.18.0.3/24", "dev", nstest.ClientDev)
	ip(t, lab.Client, "route", "add", "default", "via", nstest.ServerIP.String())
	want := []string{"address removed 198.18.0.1 on eth0", "address added 198.18.0.3 on eth0"}
	var c netmon.Change
	var details []string
	for deadline := time.Now().Add(bound); ; {
		c = within(t, m, time.Until(deadline))
		if len(details) == 0 {
			t.Logf("first change after %v", time.Since(start))
		}
		t.Logf("change: %+v", c)
		if c.Resumed || c.Link || !(c.Address || c.DefaultRoute) {
			t.Errorf("flags %+v, want Address or DefaultRoute only", c)
		}
		if strings.Contains(c.Detail, "address") && !c.Address {
			t.Errorf("change %+v names an address without the Address flag", c)
		}
		details = append(details, c.Detail)
		all := strings.Join(details, "; ")
		if strings.Contains(all, want[0]) && strings.Contains(all, want[1]) {
			break
		}
	}
	t.Logf("address move reported in %d change(s) after %v", len(details), time.Since(start))
	if r := m.Recent(); len(r) == 0 || r[len(r)-1].Detail != c.Detail {
		t.Errorf("Recent %+v lacks the change", r)
	}
}

func TestDefaultRouteSwapIgnoringOwnTunnelAndLinkDown(t *testing.T) {
	lab := nstest.New(t, nstest.Options{ClientDefaultRoute: true})
	c := lab.Client
	// A second uplink, up (carrier included) before the monitor starts.
	ip(t, c, "link", "add", "up2", "type", "veth", "peer", "name", "up2p")
	ip(t, c, "addr", "add", "198.18.5.1/24", "dev", "up2")
	ip(t, c, "link", "set", "up2p", "up")
	ip(t, c, "link", "set", "up2", "up")
	for deadline := time.Now().Add(5 * time.Second); ; {
		out, _ := nstest.Run(context.Background(), c, "ip", "-o", "link", "show", "up2")
		if strings.Contains(out, "state UP") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("up2 not up after 5s: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m, _ := run(t, netmon.Options{NetNSPath: filepath.Join("/var/run/netns", c), NoLogind: true})

	// cvpn's own tunnel: its link, addresses and routes report nothing.
	ip(t, c, "link", "add", "cvpn0", "type", "veth", "peer", "name", "cvpn0p")
	ip(t, c, "link", "set", "cvpn0p", "up")
	ip(t, c, "link", "set", "cvpn0", "up")
	ip(t, c, "addr", "add", "10.8.0.6/24", "dev", "cvpn0")
	ip(t, c, "route", "add", "0.0.0.0/1", "dev", "cvpn0")
	ip(t, c, "route", "add", "default", "dev", "cvpn0", "metric", "5000")
	quiet(t, m, time.Second)

	start := time.Now()
	ip(t, c, "route", "replace", "default", "via", "198.18.5.2", "dev", "up2")
	ch := within(t, m, bound)
	t.Logf("default route swap reported after %v: %+v", time.Since(start), ch)
	if !ch.DefaultRoute || ch.Address || ch.Link || ch.Resumed {
		t.Errorf("flags %+v, want DefaultRoute only", ch)
	}
	if want := "IPv4 default route via 198.18.0.2 dev eth0 -> via 198.18.5.2 dev up2"; ch.Detail != want {
		t.Errorf("detail %q, want %q", ch.Detail, want)
	}

	start = time.Now()
	ip(t, c, "link", "set", "up2", "down")
	ch = within(t, m, bound)
	t.Logf("link down reported after %v: %+v", time.Since(start), ch)
	if !ch.Link || !strings.Contains(ch.Detail, "link up2 down") || strings.Contains(ch.Detail, "cvpn0") {
		t.Errorf("change %+v, want link up2 down (and nothing of cvpn0)", ch)
	}

	ip(t, c, "-6", "route", "del", "default")
	ch = within(t, m, bound)
	if want := "IPv6 default route via fd18::2 dev eth0 -> none"; !ch.DefaultRoute || ch.Detail != want {
		t.Errorf("change %+v, want DefaultRoute with %q", ch, want)
	}
}

func TestResumeFromLogindOnAPrivateBus(t *testing.T) {
	lab := nstest.New(t, nstest.Options{})
	login1 := login1test.Start(t) // a private dbus-daemon with a fake logind
	m, lw := run(t, netmon.Options{NetNSPath: filepath.Join("/var/run/netns", lab.Client), DBusAddress: login1.Addr})
	lw.wait(t, "listening for logind PrepareForSleep")
	emit := login1.PrepareForSleep
	emit(true)
	lw.wait(t, "going to sleep")
	if c := within(t, m, bound); !c.Sleeping || c.Resumed || c.Detail != "going to sleep" {
		t.Errorf("change %+v, want Sleeping from logind", c)
	}
	quiet(t, m, 500*time.Millisecond)
	start := time.Now()
	emit(false)
	c := within(t, m, bound)
	t.Logf("resume reported after %v: %+v", time.Since(start), c)
	if !c.Resumed || c.DefaultRoute || c.Address || c.Link || c.Detail != "resumed from sleep (logind)" {
		t.Errorf("change %+v, want Resumed from logind", c)
	}
}

func TestNewNamesAMissingNamespace(t *testing.T) {
	_, err := netmon.New(netmon.Options{NetNSPath: "/var/run/netns/cvpn-no-such-ns"})
	if err == nil || !strings.Contains(err.Error(), "NetNSPath") || !strings.Contains(err.Error(), "cvpn-no-such-ns") {
		t.Errorf("New: %v, want an error naming the option and the path", err)
	}
}

// TestClockJumpAfterSIGSTOP stops a process running a monitor with the
// real clock for 3s ("gone for a while": the same wall-clock gap a
// suspend leaves) and expects it to report Resumed once continued.
func TestClockJumpAfterSIGSTOP(t *testing.T) {
	if os.Getenv("CVPN_NETMON_CHILD") == "1" {
		sigstopChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClockJumpAfterSIGSTOP$", "-test.v")
	cmd.Env = append(os.Environ(), "CVPN_NETMON_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine := func(prefix string, d time.Duration) string {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited before %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("no %q from the child within %v", prefix, d)
			}
		}
	}
	waitLine("ready", 10*time.Second)
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	cont := time.Now()
	l := waitLine("change resumed=true", 10*time.Second)
	t.Logf("resume reported %v after SIGCONT: %s", time.Since(cont), l)
	if !strings.Contains(l, "wall clock jumped") {
		t.Errorf("change %q does not say the clock jumped", l)
	}
}

// sigstopChild runs a monitor (real clock, checked every 50ms, jumps over
// 1s count) and prints its changes until the parent kills it or 30s pass.
func sigstopChild(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lw := newLogWatch()
	m, err := netmon.New(netmon.Options{Logger: slog.New(lw), NoLogind: true, ClockCheckInterval: 50 * time.Millisecond, ClockJump: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	lw.wait(t, "network state")
	fmt.Println("ready")
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-m.Changes():
			fmt.Printf("change resumed=%v detail=%s\n", c.Resumed, c.Detail)
		}
	}
}
