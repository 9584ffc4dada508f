package hostile_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/hostile"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// cvpnBinary builds cmd/cvpn once per test run.
func cvpnBinary(t *testing.T) string {
	return nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn")
}

// hlab is a lab with the hostile server in the server namespace and
// `cvpn connect --json --verbose` in the client namespace.
type hlab struct {
	lab    *nstest.Lab
	srv    *hostile.Server
	cl     *nstest.Proc
	home   string
	before nstest.NSState
}

func startHostile(t *testing.T, sc hostile.Scenario) *hlab {
	t.Helper()
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "ping")
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{ResolvConf: "nameserver 198.18.0.53\n"})
	h := &hlab{lab: lab, home: t.TempDir()}
	h.before = nstest.MustSnapshot(t, lab.Client)
	labPKI, err := pki.Generate(pki.Spec{Clients: []string{"client1"}})
	if err != nil {
		t.Fatal(err)
	}
	err = nstest.InNS(lab.Server, func() error {
		var err error
		h.srv, err = hostile.Start(context.Background(), hostile.Config{Listen: netip.AddrPortFrom(nstest.ServerIP, 1194),
			PKI: labPKI, Scenario: sc})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close() })
	prof, err := openvpnpeer.ServerConfig{PKI: labPKI, Listen: nstest.ServerIP, Port: 1194, Proto: "udp"}.
		ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
	if err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(h.home, "hostile.ovpn")
	if err := os.WriteFile(pf, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	h.cl = nstest.Start(t, lab.Client, "env", "CVPN_HOME="+h.home, bin, "connect", pf, "--json", "--verbose")
	return h
}

// wait waits until cvpn printed substr.
func (h *hlab) wait(ctx context.Context, t *testing.T, substr string) {
	t.Helper()
	if err := h.cl.WaitFor(ctx, substr); err != nil {
		t.Fatalf("%v\nserver stats: %+v", err, h.srv.Stats())
	}
}

// alive checks cvpn is still running and never panicked.
func (h *hlab) alive(t *testing.T) {
	t.Helper()
	if h.cl.Exited() {
		t.Fatalf("cvpn exited (%s):\n%s", h.cl.ExitStatus(), h.cl.Output())
	}
	h.noPanic(t)
}

func (h *hlab) noPanic(t *testing.T) {
	t.Helper()
	out := h.cl.Output()
	for _, bad := range []string{"panic:", "goroutine ", "fatal error:", "SIGSEGV"} {
		if strings.Contains(out, bad) {
			t.Fatalf("cvpn crashed (%q):\n%s", bad, out)
		}
	}
}

// stop disconnects with SIGTERM: exit status 0 and the namespace as before.
func (h *hlab) stop(t *testing.T) {
	t.Helper()
	if err := h.cl.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.cl.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("cvpn did not exit after SIGTERM:\n%s", h.cl.Output())
	}
	if st := h.cl.ExitStatus(); st != "exit status 0" {
		t.Errorf("exit status after SIGTERM = %q, want 0\n%s", st, h.cl.Output())
	}
	h.noPanic(t)
	if !strings.Contains(h.cl.Output(), `"state":"disconnected"`) {
		t.Errorf("no disconnected event:\n%s", h.cl.Output())
	}
	nstest.AssertUnchanged(t, h.before)
}

// children lists the child processes of pid.
func children(pid int) []string {
	var out []string
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// procStatus reads one numeric field (kB or count) of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// pushParts splits options into PUSH_REPLY messages of about size bytes,
// every part but the last marked "push-continuation 2".
func pushParts(options []string, size int) []string {
	var parts []string
	cur := "PUSH_REPLY"
	for _, o := range options {
		if len(cur)+len(o) > size && cur != "PUSH_REPLY" {
			parts = append(parts, cur+",push-continuation 2")
			cur = "PUSH_REPLY"
		}
		cur += "," + o
	}
	return append(parts, cur+",push-continuation 1")
}

// junk returns about n bytes of pushed options named name.
func junk(name string, n int) []string {
	var o []string
	for i, size := 0, 0; size < n; i++ {
		s := fmt.Sprintf("%s-%06d %s", name, i, strings.Repeat("A", 40))
		o = append(o, s)
		size += len(s) + 1
	}
	return o
}

// TestHostileRefusedConfigurations: push replies the client must refuse;
// it says what it refused, never comes up, never crashes, and leaves the
// namespace as it was.
func TestHostileRefusedConfigurations(t *testing.T) {
	cases := []struct {
		sc   hostile.Scenario
		want string // in cvpn's output
	}{
		{hostile.Scenario{Name: "endless-continuation", EndlessContinuation: true},
			"PUSH_REPLY split into more than 64 parts"},
		{hostile.Scenario{Name: "oversized-1MB-in-1KB-parts", Replies: func(base []string) []string {
			return pushParts(append(base, junk("x-junk", 1<<20)...), 1024)
		}}, "PUSH_REPLY split into more than 64 parts"},
		{hostile.Scenario{Name: "oversized-1MB-single-message", Replies: func(base []string) []string {
			return pushParts(append(base, junk("x-junk", 1<<20)...), 2<<20)
		}}, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.sc.Name, func(t *testing.T) {
			h := startHostile(t, tc.sc)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			h.wait(ctx, t, tc.want)
			h.alive(t)
			if strings.Contains(h.cl.Output(), `"state":"connected"`) {
				t.Fatalf("connected with a refused configuration:\n%s", h.cl.Output())
			}
			t.Logf("server: %+v", h.srv.Stats())
			h.stop(t)
		})
	}
}

// connected waits for the connected event and a ping through the tunnel.
func (h *hlab) connected(ctx context.Context, t *testing.T) {
	t.Helper()
	h.wait(ctx, t, `"state":"connected"`)
	if err := nstest.Ping(ctx, h.lab.Client, hostile.ServerTunnelIP); err != nil {
		t.Fatalf("ping the server through the tunnel: %v\n%s", err, h.cl.Output())
	}
}

// routesTest connects with extra pushed routes and checks that the
// server's own address stays outside the tunnel and the tunnel keeps
// carrying traffic.
func routesTest(t *testing.T, name string, push []string) {
	h := startHostile(t, hostile.Scenario{Name: name, ExtraPush: push})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.wait(ctx, t, `"state":"connected"`)
	out := nstest.MustRun(t, h.lab.Client, "ip", "route", "get", nstest.ServerIP.String())
	if !strings.Contains(out, "dev "+nstest.ClientDev) {
		t.Errorf("the server's address %s is routed into the tunnel:\n%s\nroutes:\n%s", nstest.ServerIP, out,
			nstest.MustRun(t, h.lab.Client, "ip", "route"))
	}
	if err := nstest.Ping(ctx, h.lab.Client, hostile.ServerTunnelIP); err != nil {
		t.Fatalf("ping the server through the tunnel: %v\n%s", err, h.cl.Output())
	}
	before := h.srv.Stats().DataIn
	time.Sleep(3 * time.Second) // several keepalives both ways
	if err := nstest.Ping(ctx, h.lab.Client, hostile.ServerTunnelIP); err != nil {
		t.Fatalf("the tunnel stopped working: %v\n%s", err, h.cl.Output())
	}
	if got := h.srv.Stats().DataIn; got <= before {
		t.Errorf("no data packets reached the server in 3 s (%d -> %d)", before, got)
	}
	h.alive(t)
	if strings.Count(h.cl.Output(), `"state":"connected"`) != 1 {
		t.Errorf("the tunnel went down and up again:\n%s", h.cl.Output())
	}
	h.stop(t)
}

// TestHostileRoutesCoveringServer: the server pushes routes covering its
// own (on-link) address that are less specific than the link's connected
// route: the full tunnel, a /16 and the link's own /24.
func TestHostileRoutesCoveringServer(t *testing.T) {
	routesTest(t, "routes-covering-server", []string{"redirect-gateway def1", "route 198.18.0.0 255.255.0.0",
		"route 198.18.0.0 255.255.255.0", "route 0.0.0.0 0.0.0.0"})
}

// TestHostileServerHostRoute: the server pushes a host route to its own
// address and a /25 containing it, both more specific than the link's
// connected /24. The client must not send its own tunnel packets into the
// tunnel.
func TestHostileServerHostRoute(t *testing.T) {
	routesTest(t, "server-host-route", []string{"route " + nstest.ServerIP.String() + " 255.255.255.255",
		"route 198.18.0.0 255.255.255.128"})
}

// TestHostileScriptOptions: pushed options that would run programs or
// change settings unrelated to the tunnel are ignored and logged; nothing
// is executed.
func TestHostileScriptOptions(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := strconv.Quote("/bin/sh -c 'touch " + marker + "'")
	evil := []string{
		"up " + cmd, "down " + cmd, "route-up " + cmd, "route-pre-down " + cmd, "ipchange " + cmd,
		"learn-address " + cmd, "tls-verify " + cmd, "client-connect " + cmd, "auth-user-pass-verify " + cmd + " via-env",
		"plugin /tmp/evil.so", "script-security 3", "setenv FOO bar", "setenv-safe FOO bar", "setenv opt up " + cmd,
		"management 0.0.0.0 7505", "log /tmp/cvpn-hostile.log", "cd /", "chroot /tmp", "user nobody", "group nogroup",
		"daemon", "remote 192.0.2.66 1194", "proto tcp-client", "verb 11", "dev tap0", "tls-crypt-v2 /etc/passwd",
		"pull-filter accept route",
	}
	h := startHostile(t, hostile.Scenario{Name: "script-options", ExtraPush: evil})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.connected(ctx, t)
	if kids := children(h.cl.PID()); len(kids) != 0 {
		t.Errorf("cvpn has child processes %v after a push with scripts", kids)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("a pushed script ran (%s exists)", marker)
	}
	out := h.cl.Output()
	for _, o := range evil {
		name := strings.Fields(o)[0]
		re := regexp.MustCompile(`msg="ignored pushed option" .*option="?` + regexp.QuoteMeta(name) + `[ "\n]`)
		if !re.MatchString(out) {
			t.Errorf("ignoring pushed %q was not logged", name)
		}
	}
	if t.Failed() {
		t.Logf("cvpn output:\n%s", out)
	}
	if _, err := os.Stat("/tmp/cvpn-hostile.log"); err == nil {
		t.Errorf("the pushed log option created /tmp/cvpn-hostile.log")
	}
	h.alive(t)
	h.stop(t)
}

// TestHostileHugePush: 1 MB of unknown options in five 200 KB parts
// (each under the 256 KB message limit, five parts under the 64-part
// limit) is accepted, every option ignored and logged; the client comes up
// and cleans up.
func TestHostileHugePush(t *testing.T) {
	extra := junk("x-junk", 1<<20)
	h := startHostile(t, hostile.Scenario{Name: "huge-push", Replies: func(base []string) []string {
		return pushParts(append(base, extra...), 200<<10)
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	h.connected(ctx, t)
	t.Logf("FIGURE: 1 MB push (%d options) in %d parts: connected after %s, cvpn RSS %d kB", len(extra),
		h.srv.Stats().PushReplies, time.Since(start).Round(time.Millisecond), procStatus(t, h.cl.PID(), "VmRSS"))
	if n := strings.Count(h.cl.Output(), `option="x-junk-`); n != len(extra) {
		t.Errorf("%d of %d ignored options were logged", n, len(extra))
	}
	h.alive(t)
	h.stop(t)
}

// TestHostileManyRoutes: 1,000 pushed routes are installed and all
// removed at disconnect; the figure is the time it takes.
func TestHostileManyRoutes(t *testing.T) {
	var routes []string
	for i := range 1000 {
		routes = append(routes, fmt.Sprintf("route 10.%d.%d.0 255.255.255.0", 100+i/256, i%256))
	}
	h := startHostile(t, hostile.Scenario{Name: "many-routes", ExtraPush: routes})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	start := time.Now()
	h.connected(ctx, t)
	connected := time.Since(start)
	n := strings.Count(nstest.MustRun(t, h.lab.Client, "ip", "route", "show", "dev", "cvpn0"), "\n")
	if n < len(routes) {
		t.Errorf("%d routes on cvpn0, want at least the %d pushed", n, len(routes))
	}
	stop := time.Now()
	h.stop(t)
	t.Logf("FIGURE: %d pushed routes: connected after %s, disconnected and cleaned up in %s",
		len(routes), connected.Round(time.Millisecond), time.Since(stop).Round(time.Millisecond))
}

// TestHostileDataPackets: replayed, reordered, too old and wrong-key-id
// data packets from the server. Replays and unknown key ids are dropped,
// reordering within the 64-packet window is accepted, and the tunnel keeps
// working.
func TestHostileDataPackets(t *testing.T) {
	h := startHostile(t, hostile.Scenario{Name: "data-attacks"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.connected(ctx, t)
	probe := func(mode hostile.ProbeMode, n int) hostile.ProbeResult {
		t.Helper()
		r, err := h.srv.Probe(ctx, mode, n, 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("probe %s: %s", mode, r)
		return r
	}
	if r := probe(hostile.ProbeNormal, 20); r.Answered != 20 || r.Replies != 20 {
		t.Fatalf("normal probe: %s, want all 20 answered once", r)
	}
	if r := probe(hostile.ProbeReplay, 20); r.Answered != 20 || r.Replies != 20 {
		t.Errorf("replayed packets got through: %s, want 20 replies for %d packets", r, r.Packets)
	}
	if r := probe(hostile.ProbeReorder, 32); r.Answered != 32 {
		t.Errorf("reordering within the window: %s, want all 32 answered", r)
	}
	if r := probe(hostile.ProbeTooOld, 80); r.Answered != 79 || r.FirstMissed != 0 {
		t.Errorf("too-old probe: %s (first missed %d), want 79 answered and request 0 dropped", r, r.FirstMissed)
	}
	if r := probe(hostile.ProbeWrongKeyID, 10); r.Answered != 0 {
		t.Errorf("packets under a key id never negotiated were accepted: %s", r)
	}
	if r := probe(hostile.ProbeNormal, 20); r.Answered != 20 {
		t.Errorf("the tunnel stopped working after the attacks: %s", r)
	}
	h.alive(t)
	if strings.Count(h.cl.Output(), `"state":"connected"`) != 1 {
		t.Errorf("the attacks made the client reconnect:\n%s", h.cl.Output())
	}
	h.stop(t)
}

// TestHostileRenegotiationStorm: the server starts a renegotiation every
// 100 ms for 10 s. The client must not crash, must stay bounded in memory
// and threads, and must clean up when stopped.
func TestHostileRenegotiationStorm(t *testing.T) {
	h := startHostile(t, hostile.Scenario{Name: "renegotiation-storm", SoftResetEvery: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.wait(ctx, t, `"state":"connected"`)
	rss0 := procStatus(t, h.cl.PID(), "VmRSS")
	maxRSS, maxThreads := rss0, 0
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		time.Sleep(500 * time.Millisecond)
		h.alive(t)
		maxRSS = max(maxRSS, procStatus(t, h.cl.PID(), "VmRSS"))
		maxThreads = max(maxThreads, procStatus(t, h.cl.PID(), "Threads"))
	}
	st := h.srv.Stats()
	pingErr := nstest.Ping(ctx, h.lab.Client, hostile.ServerTunnelIP)
	t.Logf("FIGURE: storm of %d soft resets in 10 s: %d renegotiations completed, client reconnects %d, RSS %d -> max %d kB, max %d threads, ping after: %v",
		st.SoftResets, st.Renegotiated, strings.Count(h.cl.Output(), `"state":"reconnecting"`), rss0, maxRSS, maxThreads, pingErr)
	if st.SoftResets < 50 {
		t.Errorf("only %d soft resets were sent: the storm did not happen", st.SoftResets)
	}
	if maxRSS > 200<<10 {
		t.Errorf("cvpn grew to %d kB during the storm", maxRSS)
	}
	if maxThreads > 64 {
		t.Errorf("cvpn reached %d threads during the storm", maxThreads)
	}
	h.srv.Close()
	h.stop(t)
}
