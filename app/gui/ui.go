package gui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/cvpn/cvpn/app/gui/assets"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/samlflow/browser"
)

// Preference keys (fyne app preferences).
const (
	PrefNotifications = "notifications"
	PrefAutostart     = "open-at-login"
	PrefCloseToTray   = "close-to-tray"
)

// Options configure the UI.
type Options struct {
	// Logger receives UI diagnostics (never secrets); nil discards.
	Logger *slog.Logger
	// Now is the clock for durations and log times; nil is time.Now.
	Now func() time.Time
	// PollInterval is how often status (bytes, duration) is refreshed;
	// 0 means one second.
	PollInterval time.Duration
	// SetAutostart turns "open at login" on or off; nil hides the setting.
	SetAutostart func(enabled bool) error
	// RequestTimeout bounds each backend request; 0 means 30 seconds.
	RequestTimeout time.Duration
	// OpenURL opens a sign-in page again; nil starts the desktop's opener
	// detached and reaps it (samlflow/browser), never waiting for the
	// browser.
	OpenURL func(ctx context.Context, url string) error
}

// UI is the desktop application: main window, dialogs, tray and
// notifications. Create it with New, then Start it; Stop ends its
// goroutines.
type UI struct {
	app  fyne.App
	win  fyne.Window
	b    Backend
	log  *slog.Logger
	now  func() time.Time
	opts Options

	m        *model
	profiles []profilestore.Entry
	selected string

	inbox    chan func()
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	runAsync func(func())
	events   <-chan ConnEvent // read by drain in tests

	main      *mainView
	logWins   map[string]*logWindow
	errDlg    dialog.Dialog
	trayKey   string
	hasTray   bool
	trayTone  assets.Tone
	samlHints map[string]*samlHint
	shortcuts fyne.ShortcutHandler
}

// New builds the main window. Nothing talks to the backend until Start.
func New(a fyne.App, b Backend, o Options) *UI {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.OpenURL == nil {
		log := o.Logger
		o.OpenURL = func(ctx context.Context, url string) error {
			return browser.Open(ctx, url, browser.Options{Logger: log})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &UI{
		app: a, b: b, log: o.Logger, now: o.Now, opts: o,
		m:       newModel(),
		inbox:   make(chan func(), 64),
		ctx:     ctx,
		cancel:  cancel,
		logWins: map[string]*logWindow{},
	}
	u.runAsync = func(f func()) {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			f()
		}()
	}
	a.SetIcon(assets.Icon())
	u.win = a.NewWindow("cvpn")
	u.win.SetIcon(assets.Icon())
	u.main = u.buildMain()
	u.win.SetContent(u.main.root)
	u.win.Resize(fyne.NewSize(860, 540))
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { u.importURIs(uris) })
	u.installShortcuts()
	u.installTray()
	u.reloadProfiles()
	return u
}

func (u *UI) openURL(ctx context.Context, url string) error { return u.opts.OpenURL(ctx, url) }

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Start loads the connection status and follows the backend's events until
// Stop. Call it on the fyne main goroutine (before or after the app runs).
func (u *UI) Start() {
	u.wg.Add(2)
	go func() {
		defer u.wg.Done()
		u.runInbox()
	}()
	go func() {
		defer u.wg.Done()
		u.follow()
	}()
}

// Stop ends the UI's goroutines, waiting at most two seconds for them.
func (u *UI) Stop() {
	u.cancel()
	done := make(chan struct{})
	go func() {
		u.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		u.log.Warn("gui goroutines did not stop within 2s")
	}
}

func (u *UI) runInbox() {
	for {
		select {
		case fn := <-u.inbox:
			fyne.Do(fn)
		case <-u.ctx.Done():
			return
		}
	}
}

// follow subscribes to events and polls status; when the daemon goes away
// it shows so and retries every three seconds.
func (u *UI) follow() {
	for {
		events, err := u.b.Events(u.ctx)
		if err == nil {
			fyne.Do(func() { u.setServiceProblem(nil) })
			u.pollOnce()
			err = u.pump(events)
		}
		if u.ctx.Err() != nil {
			return
		}
		if err == nil {
			err = ErrDaemonNotRunning
		}
		u.log.Info("daemon unavailable", "err", err)
		fyne.Do(func() { u.setServiceProblem(err) })
		select {
		case <-u.ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
	}
}

// pump applies events until the stream ends; it polls status on a ticker.
func (u *UI) pump(events <-chan ConnEvent) error {
	t := time.NewTicker(u.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			fyne.Do(func() { u.handleEvent(ev) })
		case <-t.C:
			u.pollOnce()
		}
	}
}

func (u *UI) pollOnce() {
	ctx, cancel := context.WithTimeout(u.ctx, u.opts.RequestTimeout)
	list, err := u.b.Status(ctx)
	cancel()
	if err != nil {
		if u.ctx.Err() == nil {
			u.log.Debug("status failed", "err", err)
		}
		return
	}
	fyne.Do(func() { u.applyStatus(list) })
}

// post queues fn for the main goroutine; false when the UI has stopped or
// ctx ended first.
func (u *UI) post(ctx context.Context, fn func()) bool {
	select {
	case u.inbox <- fn:
		return true
	case <-ctx.Done():
		return false
	case <-u.ctx.Done():
		return false
	}
}

// drain runs queued work and pending events on the calling goroutine; tests
// use it in place of Start.
func (u *UI) drain() {
	for {
		select {
		case fn := <-u.inbox:
			fn()
			continue
		default:
		}
		if u.events != nil {
			select {
			case ev, ok := <-u.events:
				if ok {
					u.handleEvent(ev)
					continue
				}
				u.events = nil
			default:
			}
		}
		return
	}
}

func (u *UI) requestCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(u.ctx, u.opts.RequestTimeout)
}

// handleEvent applies one backend event (main goroutine).
func (u *UI) handleEvent(ev ConnEvent) {
	if ev.Time.IsZero() {
		ev.Time = u.now()
	}
	if u.m.repeatedError(ev) {
		// The daemon reports a failed connection twice: the session's own
		// error event, then its end with the same reason.
		return
	}
	prev := u.m.apply(ev)
	lw := u.logWins[ev.Name]
	if lw != nil {
		lw.refresh()
	}
	switch ev.Event.Event {
	case client.EventState:
		u.onStateChange(ev, prev)
	case client.EventBanner:
		u.showBanner(ev.Name, ev.Text)
	case client.EventSAML:
		u.showSAMLHint(ev.Name, ev.URL)
	case client.EventError:
		// Hiding a dialog also removes the dialogs above it: close the
		// sign-in dialog before the problem is shown.
		u.closeSAMLHint(ev.Name)
		p := Explain(ev.Message, false)
		u.notify(p.Title+" ("+ev.Name+")", p.Advice)
		u.showProblem(ev.Name, p)
	case client.EventRouteEnforced:
		if ev.Action == "removed" {
			u.notify("Route removed", fmt.Sprintf("%s conflicted with %s and was removed while connected.", ev.Route, ev.Name))
		}
	}
	u.refresh()
}

func (u *UI) onStateChange(ev ConnEvent, prev client.State) {
	switch {
	case ev.State == client.StateConnected && prev != client.StateConnected:
		body := "Tunnel is up"
		if ev.TunnelIPv4 != "" {
			body += ", address " + ev.TunnelIPv4
		}
		u.notify("Connected to "+ev.Name, body+".")
		u.closeSAMLHint(ev.Name)
	case ev.State == client.StateDisconnected && prev != client.StateDisconnected && prev != "":
		u.notify("Disconnected from "+ev.Name, "The VPN connection is closed.")
		u.closeSAMLHint(ev.Name)
	case ev.State == client.StateConnected || ev.State == client.StateConfiguring:
		u.closeSAMLHint(ev.Name)
	}
}

func (u *UI) applyStatus(list []ConnStatus) {
	u.m.applyStatus(list)
	u.refresh()
}

// notify sends a desktop notification unless they are turned off.
func (u *UI) notify(title, body string) {
	if !u.app.Preferences().BoolWithFallback(PrefNotifications, true) {
		return
	}
	u.app.SendNotification(fyne.NewNotification(title, body))
}

// reloadProfiles reads the profile list (main goroutine; the store is a
// local folder, so this is quick).
func (u *UI) reloadProfiles() {
	list, err := u.b.List()
	if err != nil {
		u.showProblem("", Problem{Title: "Cannot read your profiles", Advice: "Check that the cvpn data folder is readable.", Detail: err.Error()})
		list = nil
	}
	u.profiles = list
	if u.selected != "" && u.profileIndex(u.selected) < 0 {
		u.selected = ""
	}
	if u.selected == "" && len(list) > 0 {
		u.selected = list[0].Name
	}
	u.refresh()
	if i := u.profileIndex(u.selected); i >= 0 {
		u.main.list.Select(i)
	}
}

func (u *UI) profileIndex(name string) int {
	for i, p := range u.profiles {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// names lists every profile name plus connections the daemon reports
// for profiles that are not stored (for example started from the CLI).
func (u *UI) names() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range u.profiles {
		seen[p.Name] = true
		out = append(out, p.Name)
	}
	var extra []string
	for _, n := range u.m.active() {
		if !seen[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// Toggle connects a disconnected profile and disconnects any other.
func (u *UI) Toggle(name string) {
	if name == "" {
		return
	}
	switch u.m.state(name) {
	case client.StateDisconnected:
		u.Connect(name)
	default:
		u.Disconnect(name)
	}
}

// Connect asks the backend to connect a profile.
func (u *UI) Connect(name string) {
	c := u.m.get(name)
	c.status.State = client.StateResolving
	c.status.LastError = ""
	c.addLog(u.now(), "connect requested")
	u.refresh()
	creds := &prompter{u: u, name: name}
	u.runAsync(func() {
		ctx, cancel := u.requestCtx()
		defer cancel()
		if err := u.b.Connect(ctx, name, creds); err != nil {
			u.post(u.ctx, func() {
				c := u.m.get(name)
				c.status.State = client.StateDisconnected
				c.status.LastError = err.Error()
				c.addLog(u.now(), "connect failed: "+err.Error())
				u.refresh()
				u.showProblem(name, ExplainError(err))
			})
		}
	})
}

// Disconnect asks the backend to disconnect a connection.
func (u *UI) Disconnect(name string) {
	c := u.m.get(name)
	c.status.State = client.StateDisconnecting
	c.addLog(u.now(), "disconnect requested")
	u.refresh()
	u.runAsync(func() {
		ctx, cancel := u.requestCtx()
		defer cancel()
		if err := u.b.Disconnect(ctx, name); err != nil {
			u.post(u.ctx, func() {
				u.m.get(name).addLog(u.now(), "disconnect failed: "+err.Error())
				u.showProblem(name, ExplainError(err))
				u.refresh()
			})
		}
	})
}

// Quit stops the UI and the app.
func (u *UI) Quit() {
	u.cancel()
	u.app.Quit()
}

// refresh redraws everything that depends on the model (main goroutine).
func (u *UI) refresh() {
	u.main.refresh()
	u.updateTray()
	title := "cvpn"
	if act := u.m.active(); len(act) > 0 {
		n := 0
		for _, a := range act {
			if u.m.state(a) == client.StateConnected {
				n++
			}
		}
		if n > 0 {
			title = fmt.Sprintf("cvpn — %d connected", n)
		}
	}
	u.win.SetTitle(title)
}

func (u *UI) installShortcuts() {
	mod := fyne.KeyModifierShortcutDefault
	add := func(key fyne.KeyName, fn func()) {
		sc := &desktop.CustomShortcut{KeyName: key, Modifier: mod}
		u.shortcuts.AddShortcut(sc, func(fyne.Shortcut) { fn() })
		u.win.Canvas().AddShortcut(sc, u.shortcuts.TypedShortcut)
	}
	add(fyne.KeyO, u.showImport)
	add(fyne.KeyQ, u.Quit)
	add(fyne.KeyL, func() { u.showLog(u.selected) })
	add(fyne.KeyReturn, func() { u.Toggle(u.selected) })
	add(fyne.KeyComma, u.showSettings)
}

// errorsJoin keeps import errors readable: one per line.
func errorsJoin(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	for i, e := range errs {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.Error())
	}
	return errors.New(b.String())
}

// Select shows a profile in the detail pane.
func (u *UI) Select(name string) {
	if i := u.profileIndex(name); i >= 0 {
		u.selected = name
		u.main.list.Select(i)
		u.refresh()
	}
}

// Apply shows an event as if it came from the backend. Screenshot and demo
// drivers use it; normal operation gets events through Start.
func (u *UI) Apply(ev ConnEvent) { u.handleEvent(ev) }

// ApplyStatus shows a status snapshot as if it came from the backend.
func (u *UI) ApplyStatus(list []ConnStatus) { u.applyStatus(list) }
