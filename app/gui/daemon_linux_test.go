package gui_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/daemonbackend"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// realDaemon is a `cvpn daemon` process in the lab's client namespace.
type realDaemon struct {
	bin, home, socket, ns string
	proc                  *nstest.Proc
}

func (d *realDaemon) start(t *testing.T) time.Time {
	t.Helper()
	started := time.Now()
	d.proc = nstest.Start(t, d.ns, "env", "CVPN_HOME="+d.home, "CVPN_SOCKET="+d.socket, d.bin, "daemon")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.proc.WaitFor(ctx, "cvpn daemon listening"); err != nil {
		t.Fatalf("daemon did not start: %v\n%s", err, d.proc.Output())
	}
	return started
}

// kill stops the daemon with sig and waits (bounded) until it has exited.
func (d *realDaemon) kill(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := d.proc.Signal(sig); err != nil {
		t.Fatal(err)
	}
	return at
}

func (d *realDaemon) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-d.proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not exit:\n%s", d.proc.Output())
	}
}

// waitUI drains the UI until cond holds (bounded) and returns how long it
// took from since.
func waitUI(t *testing.T, u *gui.UI, since time.Time, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		u.Drain()
		if cond() {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; state %q, summary %q, title %q\nlog:\n%s", what, limit,
				u.StateText(), u.Summary(), u.Window().Title(), u.ModelLog("lab"))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestGUIFollowsRealDaemon drives the GUI model headless over the real IPC
// socket of a real `cvpn daemon` process connected to a real `cvpn server`
// in a network namespace lab. It stops the daemon under a connected GUI
// (cleanly, then with kill -9) and checks what the user sees within a
// bounded time: every connection unknown, no green, no live duration, the
// log says so, the button offers Connect; then it restarts the daemon and
// checks that the GUI resynchronises by itself.
func TestGUIFollowsRealDaemon(t *testing.T) {
	nstest.RequireRoot(t)
	lab := nstest.New(t, nstest.Options{})
	before := nstest.MustSnapshot(t, lab.Client)
	bin := nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn")

	// The reference server in the server namespace.
	srvDir := t.TempDir()
	server := nstest.ServerIP.String()
	if out, err := nstest.Run(context.Background(), lab.Server, bin, "server", "init", srvDir, "--ecdsa",
		"--public-address", server, "--listen", server+":1194"); err != nil {
		t.Fatalf("server init: %v\n%s", err, out)
	}
	srv := nstest.Start(t, lab.Server, bin, "server", "run", "--config", filepath.Join(srvDir, "server.toml"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v\n%s", err, srv.Output())
	}

	dir := t.TempDir()
	d := &realDaemon{bin: bin, home: filepath.Join(dir, "daemon-home"), socket: filepath.Join(dir, "run", "cvpn.sock"), ns: lab.Client}
	d.start(t)

	// The GUI, as the desktop user runs it, over the daemon's socket.
	a := test.NewTempApp(t)
	store, err := profilestore.Open(filepath.Join(dir, "gui-home"), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ImportFile(filepath.Join(srvDir, "client1.ovpn"), "lab"); err != nil {
		t.Fatal(err)
	}
	b := &daemonbackend.Backend{StoreProfiles: gui.StoreProfiles{Store: store}, Socket: d.socket}
	// Default retry backoff (100 ms doubling to 2 s), as the app runs.
	u := gui.New(a, b, gui.Options{PollInterval: 250 * time.Millisecond})
	t.Cleanup(func() { b.Close() })
	t.Cleanup(u.Stop)
	u.StartFollowForTest()
	u.Select("lab")
	serverBefore := u.Value("Server")
	if want := server + ":1194/udp"; serverBefore != want {
		t.Fatalf("Server before connecting %q, want %q", serverBefore, want)
	}

	connect := func() {
		t.Helper()
		test.Tap(u.ToggleButton())
		waitUI(t, u, time.Now(), 60*time.Second, "connected (state, tunnel address, title)", func() bool {
			return strings.HasPrefix(u.StateText(), "Connected") && u.Value("Tunnel IPv4") != "—" && u.Window().Title() == "cvpn — 1 connected"
		})
	}
	success := theme.Color(theme.ColorNameSuccess)
	stopped := func() bool { return u.StateText() == "Unknown — service stopped" }
	checkStopped := func() {
		t.Helper()
		if u.StateColor() == success {
			t.Error("unknown state shown in the connected colour")
		}
		for _, f := range []string{"Tunnel IPv4", "Interface", "Cipher", "Connected for", "Received", "Sent"} {
			if v := u.Value(f); v != "—" {
				t.Errorf("%s still shows %q with the service stopped", f, v)
			}
		}
		if u.ToggleButton().Text != "Connect" || u.ProgressVisible() {
			t.Errorf("button %q, progress %v", u.ToggleButton().Text, u.ProgressVisible())
		}
		if u.Summary() != "Service stopped: 1 unknown" || u.Window().Title() != "cvpn — service stopped" {
			t.Errorf("summary %q title %q", u.Summary(), u.Window().Title())
		}
		if title, shown := u.ServiceBar(); !shown || title != "The cvpn service is not running" {
			t.Errorf("service bar %q shown %v", title, shown)
		}
		if !strings.Contains(u.ModelLog("lab"), "the connection to the cvpn service was lost") {
			t.Errorf("log does not say the service went away:\n%s", u.ModelLog("lab"))
		}
		if got := menuLabels(u); !strings.Contains(got, "Service stopped: lab unknown") || !strings.Contains(got, "Connect lab") {
			t.Errorf("tray menu %q", got)
		}
	}
	// resynced: the bar is gone and the connection the GUI could not know
	// about is shown as ended, for the nth time.
	resynced := func(n int) func() bool {
		return func() bool {
			_, bar := u.ServiceBar()
			return !bar && u.StateText() == "Not connected" &&
				strings.Count(u.ModelLog("lab"), "the cvpn service is back: this connection is no longer open") == n
		}
	}

	// The first sync hides nothing and shows no problem.
	waitUI(t, u, time.Now(), 10*time.Second, "first sync", func() bool { _, bar := u.ServiceBar(); return !bar })

	// 1. Clean stop (SIGTERM) under a connected GUI.
	connect()
	if got := u.Value("Server"); !strings.HasPrefix(got, serverBefore) {
		t.Errorf("Server while connected %q, want it to start with %q as before connecting", got, serverBefore)
	}
	at := d.kill(t, syscall.SIGTERM)
	took := waitUI(t, u, at, 5*time.Second, "stopped state after SIGTERM", stopped)
	t.Logf("SIGTERM of the daemon -> GUI shows the stopped state: %s", took.Round(time.Millisecond))
	checkStopped()
	d.waitExit(t)
	if st := d.proc.ExitStatus(); st != "exit status 0" && st != "0" {
		t.Errorf("daemon exit status %q\n%s", st, d.proc.Output())
	}
	left := sessionFiles(d.home)

	// Connect while the service is down: one explanation, one command, and
	// the connection stays unknown.
	// The connect runs off the UI goroutine; its failure reaches the
	// window through the inbox, so wait (bounded) for the dialog.
	test.Tap(u.ToggleButton())
	waitUI(t, u, time.Now(), 5*time.Second, "dialog after Connect with the service stopped",
		func() bool { return u.Window().Canvas().Overlays().Top() != nil })
	o := u.Window().Canvas().Overlays().Top()
	txt := texts(o)
	cmd := ipc.StartCommand(runtime.GOOS)
	if !strings.Contains(txt, "The cvpn service is not running") || !strings.Contains(txt, "Start it with "+cmd) ||
		!strings.Contains(txt, "the cvpn daemon is not running (nothing listens on "+d.socket+"); start it with "+cmd) ||
		strings.Contains(txt, "not running: the cvpn daemon is not running") || strings.Contains(txt, "enable --now") {
		t.Errorf("dialog (want the problem once and %s in the advice and the detail):\n%s", cmd, txt)
	}
	if !stopped() {
		t.Errorf("state after a failed connect with the service stopped: %q", u.StateText())
	}
	if ok := button(o, "OK"); ok != nil {
		test.Tap(ok)
	}

	at = d.start(t)
	took = waitUI(t, u, at, 10*time.Second, "resync after restart", resynced(1))
	t.Logf("daemon restart (process start) -> GUI resynchronised: %s", took.Round(time.Millisecond))
	if strings.Contains(d.proc.Output(), "cleaning up after a previous daemon") {
		t.Errorf("a restart after a clean stop cleans up after it (left: %s):\n%s", left, d.proc.Output())
	}

	// 2. Connect and disconnect from the GUI: the end is logged once.
	connect()
	test.Tap(u.ToggleButton())
	waitUI(t, u, time.Now(), 30*time.Second, "disconnected", func() bool { return u.StateText() == "Not connected" })
	time.Sleep(300 * time.Millisecond) // let a duplicate arrive if there is one
	u.Drain()
	log := u.ModelLog("lab")
	if n := strings.Count(log[strings.LastIndex(log, "disconnect requested"):], "state disconnected"); n != 1 {
		t.Errorf("state disconnected logged %d times after one disconnect:\n%s", n, log)
	}

	// 3. kill -9 of the daemon under a connected GUI.
	connect()
	at = d.kill(t, syscall.SIGKILL)
	took = waitUI(t, u, at, 5*time.Second, "stopped state after kill -9", stopped)
	t.Logf("kill -9 of the daemon -> GUI shows the stopped state: %s", took.Round(time.Millisecond))
	checkStopped()
	d.waitExit(t)
	at = d.start(t)
	took = waitUI(t, u, at, 10*time.Second, "resync after kill -9 and restart", resynced(2))
	t.Logf("daemon restart after kill -9 -> GUI resynchronised: %s", took.Round(time.Millisecond))
	if !strings.Contains(d.proc.Output(), "cleaning up after a previous daemon") {
		t.Errorf("restart after kill -9 did not clean up:\n%s", d.proc.Output())
	}
	t.Logf("the connection's log in the GUI:\n%s", u.ModelLog("lab"))
	if n := strings.Count(u.ModelLog("lab"), "state disconnected"); n != 1 {
		t.Errorf("state disconnected logged %d times for one disconnect from the GUI", n)
	}
	if err := d.proc.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	nstest.AssertUnchanged(t, before)
	if left := sessionFiles(d.home); left != "" {
		t.Errorf("left in the daemon's session folders after a clean stop: %s", left)
	}
}

func menuLabels(u *gui.UI) string {
	var s []string
	for _, it := range u.TrayMenu().Items {
		if !it.IsSeparator {
			s = append(s, it.Label)
		}
	}
	return strings.Join(s, "|")
}

// sessionFiles lists what is left in the daemon's session folders.
func sessionFiles(home string) string {
	var out []string
	root := filepath.Join(home, "state", "sessions")
	filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return strings.Join(out, ", ")
}
