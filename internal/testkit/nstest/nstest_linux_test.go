package nstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLabTopology(t *testing.T) {
	l := New(t, Options{LAN: true})
	ctx := context.Background()
	for _, ns := range l.Namespaces() {
		if !strings.HasSuffix(ns, "-"+l.Suffix) || !strings.HasPrefix(ns, "cvpn-") {
			t.Errorf("namespace name %q lacks the cvpn- prefix or suffix %s", ns, l.Suffix)
		}
		b, err := os.ReadFile(ResolvConfPath(ns))
		if err != nil {
			t.Fatalf("resolv.conf for %s: %v", ns, err)
		}
		// ip netns exec must show the lab's file, not the host's.
		if got := MustRun(t, ns, "cat", "/etc/resolv.conf"); got != string(b) {
			t.Errorf("/etc/resolv.conf inside %s = %q, want %q", ns, got, b)
		}
	}
	for _, c := range []struct {
		from string
		to   netip.Addr
	}{
		{l.Client, ServerIP}, {l.Client, ServerIP6}, {l.Server, ClientIP},
		{l.Server, LANHostIP}, {l.Server, LANHostIP6}, {l.LAN, ServerLANIP},
	} {
		if err := Ping(ctx, c.from, c.to); err != nil {
			t.Error(err)
		}
	}
	// Without a tunnel the client has no route to the lan.
	if err := PingFails(ctx, l.Client, LANHostIP); err != nil {
		t.Error(err)
	}
	if got := MustRun(t, l.Server, "sysctl", "-n", "net.ipv4.ip_forward"); strings.TrimSpace(got) != "1" {
		t.Errorf("server ip_forward = %q", got)
	}
}

func TestClientDefaultRoute(t *testing.T) {
	l := New(t, Options{LAN: true, ClientDefaultRoute: true})
	out := MustRun(t, l.Client, "ip", "route", "show", "default")
	if !strings.Contains(out, "via "+ServerIP.String()) {
		t.Errorf("client default route = %q", out)
	}
	// The server forwards, so the lan answers over the underlay now.
	if err := Ping(context.Background(), l.Client, LANHostIP); err != nil {
		t.Error(err)
	}
}

func TestTransfer(t *testing.T) {
	l := New(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, to := range []netip.Addr{ServerIP, ServerIP6} {
		res, err := Transfer(ctx, l.Client, l.Server, to, 20<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			t.Fatalf("transfer to %s not intact: %s", to, res)
		}
		t.Logf("to %s: %s", to, res)
	}
	res, err := Transfer(ctx, l.Server, l.Client, ClientIP, 0)
	if err != nil || !res.OK() {
		t.Fatalf("empty transfer: %v %s", err, res)
	}
	// Nothing listens in the client namespace on the server's address.
	ctx2, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	if _, err := Transfer(ctx2, l.Client, l.Server, LANHostIP, 1); err == nil || !strings.Contains(err.Error(), "listener") {
		t.Errorf("transfer to an address the server lacks: err = %v", err)
	}
}

func TestInNS(t *testing.T) {
	l := New(t, Options{})
	var addrs []string
	err := InNS(l.Client, func() error {
		ifc, err := net.InterfaceByName(ClientDev)
		if err != nil {
			return err
		}
		as, err := ifc.Addrs()
		for _, a := range as {
			addrs = append(addrs, a.String())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(addrs, " "), ClientIP.String()+"/24") {
		t.Errorf("addresses of %s in %s = %v", ClientDev, l.Client, addrs)
	}
	err = InNS(l.Client, func() error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "panic in InNS: boom") {
		t.Errorf("panic: err = %v", err)
	}
	if err := InNS("cvpn-no-such-ns", func() error { return nil }); err == nil || !strings.Contains(err.Error(), "cvpn-no-such-ns") {
		t.Errorf("missing namespace: err = %v", err)
	}
	want := fmt.Errorf("inner")
	if err := InNS(l.Server, func() error { return want }); err != want {
		t.Errorf("error from fn = %v", err)
	}
}

func TestProcStartWaitStop(t *testing.T) {
	l := New(t, Options{})
	p := Start(t, l.Client, "sh", "-c", "echo starting; sleep 0.2; echo ready port=4242; exec sleep 60")
	m, err := p.WaitMatch(context.Background(), regexpMust(`ready port=(\d+)`))
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "4242" {
		t.Errorf("submatch = %q", m[1])
	}
	pids := strings.Fields(MustRun(t, "", "ip", "netns", "pids", l.Client))
	if len(pids) != 1 || pids[0] != fmt.Sprint(p.PID()) {
		t.Errorf("pids in %s = %v, want [%d] (ip netns exec must exec, not fork)", l.Client, pids, p.PID())
	}
	if err := p.Stop(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() || !strings.Contains(p.ExitStatus(), "terminated") {
		t.Errorf("after Stop: exited=%v status=%s", p.Exited(), p.ExitStatus())
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	q := Start(t, l.Client, "sh", "-c", "echo bye; exit 3")
	err = q.WaitFor(context.Background(), "never printed")
	if err == nil || !strings.Contains(err.Error(), "exited (exit status 3)") || !strings.Contains(err.Error(), "bye") {
		t.Errorf("WaitFor on exiting process: %v", err)
	}
	r := Start(t, l.Client, "sleep", "60")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.WaitFor(ctx, "x"); err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("WaitFor timeout: %v", err)
	}
	// A process ignoring SIGTERM is killed after the grace period.
	s := Start(t, l.Client, "sh", "-c", "trap '' TERM; echo armed; while :; do sleep 0.1; done")
	if err := s.WaitFor(context.Background(), "armed"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Stop(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ExitStatus(), "killed") || time.Since(start) < 300*time.Millisecond {
		t.Errorf("stubborn process: %s after %v", s.ExitStatus(), time.Since(start))
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	RequireRoot(t)
	l, err := Create(context.Background(), Options{LAN: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartProc(l.Server, "sleep", "60")
	if err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	// Also a process not started through Proc (e.g. a daemon's child).
	if _, err := Run(context.Background(), l.LAN, "sh", "-c", "sleep 60 >/dev/null 2>&1 &"); err != nil {
		_ = l.Close()
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("process %d still running after Close", p.PID())
		_ = p.Stop(time.Second)
	}
	list := MustRun(t, "", "ip", "netns", "list")
	for _, ns := range l.Namespaces() {
		if strings.Contains(list, ns) {
			t.Errorf("namespace %s still listed", ns)
		}
		if _, err := os.Stat(filepath.Join("/etc/netns", ns)); !os.IsNotExist(err) {
			t.Errorf("/etc/netns/%s still there (%v)", ns, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSnapshotDetectsChanges(t *testing.T) {
	l := New(t, Options{})
	before := MustSnapshot(t, l.Client)
	if len(before.Sections) != 5 {
		t.Fatalf("%d sections", len(before.Sections))
	}
	if !strings.Contains(before.Sections[1].Text, ClientIP.String()) {
		t.Errorf("addr section lacks %s:\n%s", ClientIP, before.Sections[1].Text)
	}
	if d := before.Diff(MustSnapshot(t, l.Client)); d != "" {
		t.Fatalf("two snapshots of an idle namespace differ:\n%s", d)
	}
	MustRun(t, l.Client, "ip", "route", "add", "10.99.0.0/24", "via", ServerIP.String())
	MustRun(t, l.Client, "sh", "-c", "echo nameserver 198.18.0.53 >> /etc/resolv.conf")
	d := before.Diff(MustSnapshot(t, l.Client))
	if !strings.Contains(d, "+ unicast 10.99.0.0/24 via 198.18.0.2") || !strings.Contains(d, "+ nameserver 198.18.0.53") {
		t.Errorf("diff does not show the new route and nameserver:\n%s", d)
	}
	MustRun(t, l.Client, "ip", "route", "del", "10.99.0.0/24")
	if err := writeResolvConf(l.Client, before.Sections[4].Text); err != nil {
		t.Fatal(err)
	}
	AssertUnchanged(t, before)
}

func TestNetem(t *testing.T) {
	l := New(t, Options{})
	RequireNetem(t, l.Client)
	ctx := context.Background()
	if err := SetNetem(ctx, l.Client, ClientDev, Netem{Delay: 150 * time.Millisecond, LossPercent: 0.5}); err != nil {
		t.Fatal(err)
	}
	out := MustRun(t, l.Client, "tc", "qdisc", "show", "dev", ClientDev)
	if !strings.Contains(out, "netem") || !strings.Contains(out, "delay 150ms") || !strings.Contains(out, "loss 0.5%") {
		t.Errorf("qdisc = %q", out)
	}
	start := time.Now()
	if err := Ping(ctx, l.Client, ServerIP); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("ping with 150ms netem delay took %v", el)
	}
	if err := ClearNetem(ctx, l.Client, ClientDev); err != nil {
		t.Fatal(err)
	}
	if out := MustRun(t, l.Client, "tc", "qdisc", "show", "dev", ClientDev); strings.Contains(out, "netem") {
		t.Errorf("netem still installed: %q", out)
	}
	if err := SetNetem(ctx, l.Client, ClientDev, Netem{}); err == nil {
		t.Error("empty netem accepted")
	}
}

func TestNetemUnsupportedIsReported(t *testing.T) {
	l := New(t, Options{})
	RequireBinaries(t, "tc")
	err := SetNetem(context.Background(), l.Client, ClientDev, Netem{Delay: time.Millisecond})
	if err == nil {
		_ = ClearNetem(context.Background(), l.Client, ClientDev)
		t.Skip("kernel has netem; the unsupported path cannot be exercised here")
	}
	if !errors.Is(err, ErrNetemUnsupported) || !strings.Contains(err.Error(), l.Client+"/"+ClientDev) {
		t.Errorf("err = %v, want ErrNetemUnsupported naming %s/%s", err, l.Client, ClientDev)
	}
}

func TestNetemArgs(t *testing.T) {
	got := strings.Join(Netem{Delay: 20 * time.Millisecond, Jitter: 1500 * time.Microsecond, LossPercent: 1, Duplicate: 0.1, Reorder: 25, RateKbit: 1000}.Args(), " ")
	want := "delay 20ms 1.5ms loss 1% duplicate 0.1% reorder 25% rate 1000kbit"
	if got != want {
		t.Errorf("Args = %q, want %q", got, want)
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nc\nd\n")
	want := "  a\n- b\n  c\n+ d\n"
	if got != want {
		t.Errorf("lineDiff = %q, want %q", got, want)
	}
	a := NSState{NS: "x", Sections: []Section{{"s", "1\n"}}}
	if d := a.Diff(a); d != "" {
		t.Errorf("self diff = %q", d)
	}
}

// fakeTB records Skipf/Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestRequireSkipsOrFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "")
	f := &fakeTB{}
	RequireBinaries(f, "cvpn-definitely-missing-binary")
	if !strings.Contains(f.skipped, "cvpn-definitely-missing-binary") || f.failed != "" {
		t.Errorf("without CI: skipped=%q failed=%q", f.skipped, f.failed)
	}
	t.Setenv("CI", "true")
	f = &fakeTB{}
	RequireBinaries(f, "cvpn-definitely-missing-binary")
	if !strings.Contains(f.failed, "CI=true") || f.skipped != "" {
		t.Errorf("with CI=true: skipped=%q failed=%q", f.skipped, f.failed)
	}
	f = &fakeTB{}
	RequireBinaries(f, "sh")
	if f.failed != "" || f.skipped != "" {
		t.Errorf("present binary: skipped=%q failed=%q", f.skipped, f.failed)
	}
}
