package gui_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/guitest"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

var profiles = fixtures.Profiles()

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type harness struct {
	t    *testing.T
	app  fyne.App
	fake *guitest.Backend
	ui   *gui.UI
	clk  *clock
}

func newHarness(t *testing.T) *harness { t.Helper(); return newHarnessWith(t, gui.Options{}) }

// newHarnessWith is newHarness with options (Now is the harness clock).
func newHarnessWith(t *testing.T, o gui.Options) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	clk := &clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}
	store, err := profilestore.Open(t.TempDir(), profilestore.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	fake := guitest.New(store, clk.now)
	o.Now = clk.now
	u := gui.New(a, fake, o)
	if err := u.UseSyncForTest(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	return &harness{t: t, app: a, fake: fake, ui: u, clk: clk}
}

func (h *harness) importFile(rel string) {
	h.t.Helper()
	path, err := filepath.Abs(filepath.Join(profiles, rel))
	if err != nil {
		h.t.Fatal(err)
	}
	h.ui.ImportURIs([]fyne.URI{storage.NewFileURI(path)})
}

// walk visits every visible object below o.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, f)
		}
	}
}

// overlayText joins the text of every label in the top dialog.
func (h *harness) overlay() fyne.CanvasObject { return h.ui.Window().Canvas().Overlays().Top() }

func texts(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(c fyne.CanvasObject) {
		switch x := c.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
		case *widget.RichText:
			b.WriteString(x.String() + "\n")
		}
	})
	return b.String()
}

func button(o fyne.CanvasObject, text string) *widget.Button {
	var found *widget.Button
	walk(o, func(c fyne.CanvasObject) {
		if b, ok := c.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	return found
}

func entries(o fyne.CanvasObject) []*widget.Entry {
	var out []*widget.Entry
	walk(o, func(c fyne.CanvasObject) {
		if e, ok := c.(*widget.Entry); ok {
			out = append(out, e)
		}
	})
	return out
}

// waitOverlay drains the UI until a dialog is shown (bounded).
func (h *harness) waitOverlay() fyne.CanvasObject {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		h.ui.Drain()
		if o := h.overlay(); o != nil {
			return o
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatal("no dialog appeared within 3s")
	return nil
}

func (h *harness) tap(o fyne.CanvasObject, text string) {
	h.t.Helper()
	b := button(o, text)
	if b == nil {
		h.t.Fatalf("no button %q in dialog with text:\n%s", text, texts(o))
	}
	test.Tap(b)
}

func TestImportConnectTrafficDisconnect(t *testing.T) {
	h := newHarness(t)
	if got := h.ui.ProfileNames(); len(got) != 0 {
		t.Fatalf("profiles before import: %v", got)
	}
	h.importFile("good/aws-mutual.ovpn")
	if got := strings.Join(h.ui.ProfileNames(), ","); got != "aws-mutual" {
		t.Fatalf("profiles after import: %q", got)
	}
	if h.ui.Selected() != "aws-mutual" || h.ui.StateText() != "Not connected" {
		t.Fatalf("selected %q state %q", h.ui.Selected(), h.ui.StateText())
	}
	if h.ui.Value("Server") == "—" {
		t.Error("server of the profile not shown before connecting")
	}

	// Connect with the big button.
	test.Tap(h.ui.ToggleButton())
	if c := h.fake.Calls(); len(c) != 1 || c[0] != "connect aws-mutual" {
		t.Fatalf("calls %v", c)
	}
	h.ui.Drain()
	if h.ui.StateText() != "Looking up server" || !h.ui.ProgressVisible() || h.ui.ToggleButton().Text != "Disconnect" {
		t.Fatalf("after connect: state %q progress %v button %q", h.ui.StateText(), h.ui.ProgressVisible(), h.ui.ToggleButton().Text)
	}
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventState, State: clientapi.StateAuthenticating})
	h.ui.Drain()
	if h.ui.StateText() != "Signing in" {
		t.Fatalf("state %q", h.ui.StateText())
	}

	test.AssertNotificationSent(t, fyne.NewNotification("Connected to aws-mutual", "Tunnel is up, address 10.100.0.6."), func() {
		h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
		h.ui.Drain()
	})
	if h.ui.Value("Tunnel IPv4") != "10.100.0.6" || h.ui.Value("Cipher") != "AES-256-GCM" || h.ui.ProgressVisible() {
		t.Fatalf("connected view: ipv4 %q cipher %q progress %v", h.ui.Value("Tunnel IPv4"), h.ui.Value("Cipher"), h.ui.ProgressVisible())
	}

	// Traffic and duration come from status polls.
	h.clk.t = h.clk.t.Add(2*time.Minute + 5*time.Second)
	h.fake.SetTraffic("aws-mutual", 1_520_000, 48_000)
	h.ui.Poll()
	if h.ui.Value("Received") != "1.5 MB" || h.ui.Value("Sent") != "48.0 KB" || h.ui.Value("Connected for") != "2m 05s" {
		t.Fatalf("traffic: in %q out %q for %q", h.ui.Value("Received"), h.ui.Value("Sent"), h.ui.Value("Connected for"))
	}
	if !strings.HasPrefix(h.ui.StateText(), "Connected · 2m 05s") {
		t.Fatalf("state %q", h.ui.StateText())
	}
	if h.ui.Window().Title() != "cvpn — 1 connected" {
		t.Fatalf("title %q", h.ui.Window().Title())
	}

	test.AssertNotificationSent(t, fyne.NewNotification("Disconnected from aws-mutual", "The VPN connection is closed."), func() {
		test.Tap(h.ui.ToggleButton())
		h.ui.Drain()
	})
	if c := h.fake.Calls(); len(c) != 2 || c[1] != "disconnect aws-mutual" {
		t.Fatalf("calls %v", c)
	}
	if h.ui.StateText() != "Not connected" || h.ui.Value("Tunnel IPv4") != "—" || h.ui.ToggleButton().Text != "Connect" {
		t.Fatalf("after disconnect: %q ipv4 %q button %q", h.ui.StateText(), h.ui.Value("Tunnel IPv4"), h.ui.ToggleButton().Text)
	}
}

func TestBannerDialogAcceptAndDecline(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	test.Tap(h.ui.ToggleButton())
	h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventBanner, Text: "Authorized use only.\nActivity is logged."})
	o := h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "Authorized use only.\nActivity is logged.") || !strings.Contains(txt, "Message from aws-mutual") {
		t.Fatalf("banner dialog text:\n%s", txt)
	}
	h.tap(o, "Accept")
	if h.overlay() != nil {
		t.Fatal("banner still shown after Accept")
	}
	if c := h.fake.Calls(); len(c) != 1 {
		t.Fatalf("accepting the banner made calls %v", c)
	}

	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventBanner, Text: "Second session banner"})
	o = h.waitOverlay()
	h.tap(o, "Disconnect")
	h.ui.Drain()
	if c := h.fake.Calls(); len(c) != 2 || c[1] != "disconnect aws-mutual" {
		t.Fatalf("declining the banner: calls %v", c)
	}
	if h.ui.StateText() != "Not connected" {
		t.Fatalf("state %q", h.ui.StateText())
	}
}

func TestMFAPrompt(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-ad-mfa.ovpn")
	test.Tap(h.ui.ToggleButton())
	creds := h.fake.Credentials("aws-ad-mfa")
	if creds == nil {
		t.Fatal("Connect did not pass credentials")
	}
	type answer struct {
		code string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		code, err := creds.Challenge(context.Background(), "Enter your authenticator code", false)
		got <- answer{code, err}
	}()
	o := h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "Enter your authenticator code") {
		t.Fatalf("MFA dialog text:\n%s", txt)
	}
	es := entries(o)
	if len(es) != 1 || !es[0].Password {
		t.Fatalf("want one hidden code entry, got %d", len(es))
	}
	test.Type(es[0], " 123456 ")
	h.tap(o, "Verify")
	select {
	case a := <-got:
		if a.err != nil || a.code != "123456" {
			t.Fatalf("challenge answer %q %v", a.code, a.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("challenge not answered")
	}

	// An echoed challenge uses a visible entry.
	go func() {
		code, err := creds.Challenge(context.Background(), "Enter PIN", true)
		got <- answer{code, err}
	}()
	o = h.waitOverlay()
	if es := entries(o); len(es) != 1 || es[0].Password {
		t.Fatal("echo challenge should use a visible entry")
	}
	h.tap(o, "Cancel")
	if a := <-got; !errors.Is(a.err, gui.ErrCancelled) {
		t.Fatalf("cancel: %v", a.err)
	}
}

func TestUserPassPrompt(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-ad.ovpn")
	test.Tap(h.ui.ToggleButton())
	creds := h.fake.Credentials("aws-ad")
	type answer struct {
		user, pass string
		err        error
	}
	got := make(chan answer, 1)
	go func() {
		u, p, err := creds.UserPass(context.Background(), "The server refused the password; try again.")
		got <- answer{u, p, err}
	}()
	o := h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "The server refused the password") || !strings.Contains(txt, "Sign in to aws-ad") {
		t.Fatalf("dialog text:\n%s", txt)
	}
	es := entries(o)
	if len(es) != 2 || es[0].Password || !es[1].Password {
		t.Fatalf("want user and hidden password entries, got %d", len(es))
	}
	test.Type(es[0], "alice")
	test.Type(es[1], "s3cret")
	h.tap(o, "Sign in")
	a := <-got
	if a.err != nil || a.user != "alice" || a.pass != "s3cret" {
		t.Fatalf("answer %q %q %v", a.user, a.pass, a.err)
	}

	// A request that ends (ctx cancelled) closes its dialog.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		u, p, err := creds.UserPass(ctx, "")
		got <- answer{u, p, err}
	}()
	h.waitOverlay()
	cancel()
	if a := <-got; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled request: %v", a.err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for h.overlay() != nil && time.Now().Before(deadline) {
		h.ui.Drain()
		time.Sleep(5 * time.Millisecond)
	}
	if h.overlay() != nil {
		t.Fatal("dialog of a cancelled request still shown")
	}
}

func TestErrorsInHumanWords(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-ad.ovpn")
	test.Tap(h.ui.ToggleButton())
	test.AssertNotificationSent(t, fyne.NewNotification("Sign-in failed (aws-ad)",
		gui.Explain("AUTH_FAILED", false).Advice), func() {
		h.fake.Emit("aws-ad", clientapi.Event{Event: clientapi.EventError, Message: "server said AUTH_FAILED"})
		h.ui.Drain()
	})
	o := h.overlay()
	if o == nil {
		t.Fatal("no error dialog")
	}
	if txt := texts(o); !strings.Contains(txt, "Sign-in failed") || !strings.Contains(txt, "Check them and connect again") {
		t.Fatalf("error dialog:\n%s", txt)
	}
	h.tap(o, "OK")
	h.fake.Emit("aws-ad", clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
	h.ui.Drain()
	if title, shown := h.ui.ErrorBox(); !shown || title != "Sign-in failed" {
		t.Fatalf("inline error %q shown %v", title, shown)
	}

	// The daemon is down: connecting explains how to start it.
	h.fake.SetDown(true)
	test.Tap(h.ui.ToggleButton())
	h.ui.Drain()
	o = h.overlay()
	if o == nil || !strings.Contains(texts(o), "The cvpn service is not running") {
		t.Fatalf("daemon down dialog:\n%s", texts(o))
	}
	if h.ui.StateText() != "Not connected" {
		t.Fatalf("state after failed connect %q", h.ui.StateText())
	}
	h.ui.SetServiceProblem(gui.ErrDaemonNotRunning)
	if title, shown := h.ui.ServiceBar(); !shown || title != "The cvpn service is not running" {
		t.Fatalf("service bar %q %v", title, shown)
	}
	// Shown means laid out, without waiting for another redraw.
	if hgt := h.ui.ServiceBarHeight(); hgt <= 0 {
		t.Fatalf("service bar shown with height %v", hgt)
	}
	h.ui.SetServiceProblem(nil)
	if _, shown := h.ui.ServiceBar(); shown {
		t.Fatal("service bar still shown")
	}
}

func TestImportBadProfileNamesLine(t *testing.T) {
	h := newHarness(t)
	h.importFile("bad/unknown-directive.ovpn")
	if n := h.ui.ProfileNames(); len(n) != 0 {
		t.Fatalf("bad profile stored: %v", n)
	}
	o := h.overlay()
	if o == nil {
		t.Fatal("no error dialog")
	}
	txt := texts(o)
	if !strings.Contains(txt, "Some files could not be imported") || !strings.Contains(txt, "unknown-directive.ovpn:") {
		t.Fatalf("dialog:\n%s", txt)
	}
}

func TestImportTwiceGetsSuffix(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	h.importFile("good/aws-mutual.ovpn")
	if got := strings.Join(h.ui.ProfileNames(), ","); got != "aws-mutual,aws-mutual-2" {
		t.Fatalf("profiles %q", got)
	}
	if h.ui.Selected() != "aws-mutual-2" {
		t.Fatalf("selected %q", h.ui.Selected())
	}
}

func TestTrayMenuAndLog(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	h.importFile("good/routes.ovpn")
	labels := func() string {
		var s []string
		for _, it := range h.ui.TrayMenu().Items {
			l := it.Label
			if it.Checked {
				l += "*"
			}
			if !it.IsSeparator {
				s = append(s, l)
			}
		}
		return strings.Join(s, "|")
	}
	if got := labels(); got != "Not connected|Connect aws-mutual|Connect routes|Open cvpn" {
		t.Fatalf("tray %q", got)
	}
	// Connect from the tray.
	for _, it := range h.ui.TrayMenu().Items {
		if it.Label == "Connect routes" {
			it.Action()
		}
	}
	h.fake.ConnectScript("routes", "vpn.lab.test:443/udp", "10.100.0.10")
	h.ui.Drain()
	if got := labels(); got != "Connected: routes|Connect aws-mutual|Disconnect routes*|Open cvpn" {
		t.Fatalf("tray %q", got)
	}
	h.fake.Emit("routes", clientapi.Event{Event: clientapi.EventRouteEnforced, Action: "removed", Route: "172.31.5.0/24"})
	h.ui.Drain()

	h.ui.ShowLog("routes")
	log := h.ui.LogText("routes")
	for _, want := range []string{"12:00:00  connect requested", "state connected server vpn.lab.test:443/udp ipv4 10.100.0.10",
		"route 172.31.5.0/24 removed"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	h.ui.CopyLog("routes")
	if got := h.app.Clipboard().Content(); got != log {
		t.Fatalf("clipboard %q", got)
	}
}

func TestKeyboardShortcuts(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	// Ctrl/Cmd+Return toggles the selected profile.
	sh := h.ui
	sh.TypeShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	if calls := h.fake.Calls(); len(calls) != 1 || calls[0] != "connect aws-mutual" {
		t.Fatalf("calls %v", calls)
	}
	// Ctrl/Cmd+O opens the file dialog.
	sh.TypeShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: fyne.KeyModifierShortcutDefault})
	if h.overlay() == nil {
		t.Fatal("Ctrl+O did not open a dialog")
	}
}

// TestDisconnectFailsWithServiceDown: Disconnect while the daemon is
// unreachable does not leave the connection "Disconnecting": it turns
// unknown and the button offers Connect.
func TestDisconnectFailsWithServiceDown(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	test.Tap(h.ui.ToggleButton())
	h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
	h.ui.Drain()
	if got := h.ui.Value("Server"); got != "vpn.lab.test:443/udp" {
		t.Errorf("Server while connected %q", got)
	}
	h.fake.SetDown(true)
	test.Tap(h.ui.ToggleButton())
	h.ui.Drain()
	if h.ui.StateText() != "Unknown — service stopped" || h.ui.ToggleButton().Text != "Connect" || h.ui.ProgressVisible() {
		t.Fatalf("after a failed disconnect: state %q button %q progress %v", h.ui.StateText(), h.ui.ToggleButton().Text, h.ui.ProgressVisible())
	}
	if s := h.ui.Summary(); strings.Contains(s, "in progress") || strings.Contains(s, "connected") {
		t.Fatalf("summary %q", s)
	}
	if o := h.overlay(); o == nil || !strings.Contains(texts(o), "The cvpn service is not running") {
		t.Fatal("no explanation after the failed disconnect")
	}
}
