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
	"github.com/cvpn/cvpn/ovpn/clientapi"
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
	// RetryMin and RetryMax bound the wait between attempts to reach the
	// cvpn service after it went away: the first retry comes after
	// RetryMin, each next one waits twice as long, at most RetryMax.
	// Zero means 100 ms and 2 s.
	RetryMin, RetryMax time.Duration
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
	// reauthDlgs are the open "Sign in again" dialogs (reauth.go).
	reauthDlgs map[string]dialog.Dialog
	shortcuts  fyne.ShortcutHandler
}

// New builds the main window and installs cvpn's Theme (unless the app
// already has a ThemeVariant). Nothing talks to the backend until Start.
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
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(2*time.Second, o.RetryMin)
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
	if _, ok := a.Settings().Theme().(appTheme); !ok {
		a.Settings().SetTheme(Theme())
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

// errServiceLost is why the UI stops following when the event stream of
// the cvpn service ends.
var errServiceLost = lostError{}

type lostError struct{}

func (lostError) Error() string {
	return "the connection to the cvpn daemon was lost: it stopped or restarted"
}
func (lostError) Is(target error) bool { return target == ErrDaemonNotRunning }

// follow subscribes to events and polls status until Stop. When the
// service goes away it marks every open connection unknown at once, then
// tries again after RetryMin, doubling the wait up to RetryMax, and
// resynchronises from a status snapshot when the service is back. Its UI
// work runs on the main goroutine through the inbox, in order.
func (u *UI) follow() {
	wait := u.opts.RetryMin
	up := true // the service is assumed up until a call says otherwise
	for {
		err := u.followOnce(func() { wait, up = u.opts.RetryMin, true })
		if u.ctx.Err() != nil {
			return
		}
		if up {
			u.log.Info("cvpn service unavailable", "err", err)
		} else {
			u.log.Debug("cvpn service still unavailable", "err", err, "retry_in", wait)
		}
		lost := up
		up = false
		u.post(u.ctx, func() { u.serviceLost(err, lost) })
		t := time.NewTimer(wait)
		select {
		case <-u.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, u.opts.RetryMax)
	}
}

// followOnce subscribes, applies a status snapshot (calling connected
// first), and pumps events until the stream ends; it returns why.
func (u *UI) followOnce(connected func()) error {
	events, err := u.b.Events(u.ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(u.ctx, u.opts.RequestTimeout)
	list, err := u.b.Status(ctx)
	cancel()
	if err != nil {
		return err
	}
	connected()
	u.post(u.ctx, func() {
		u.serviceBack()
		u.applyStatus(list)
	})
	return u.pump(events)
}

// pump applies events until the stream ends; it polls status on a ticker.
func (u *UI) pump(events <-chan ConnEvent) error {
	t := time.NewTicker(u.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return u.ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return errServiceLost
			}
			u.post(u.ctx, func() { u.handleEvent(ev) })
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
	u.post(u.ctx, func() { u.applyStatus(list) })
}

// serviceLost shows that the service cannot be reached (main goroutine).
// With lost (the first failure after it was up) every connection that was
// not disconnected turns unknown, says so in its log, and one notification
// tells the user.
func (u *UI) serviceLost(err error, lost bool) {
	if lost {
		names := u.m.serviceLost(u.now())
		for _, n := range names {
			if lw := u.logWins[n]; lw != nil {
				lw.refresh()
			}
			u.closeSAMLHint(n)
		}
		if len(names) > 0 {
			u.notify("cvpn service stopped", "The state of "+strings.Join(names, ", ")+
				" is unknown. cvpn reconnects to the service when it is back.")
		}
	}
	u.m.serviceDown = true
	u.setServiceProblem(err)
	u.refresh()
}

// serviceBack hides the "service not running" bar (main goroutine).
func (u *UI) serviceBack() {
	u.m.serviceDown = false
	u.setServiceProblem(nil)
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
	case clientapi.EventState:
		u.onStateChange(ev, prev)
	case clientapi.EventBanner:
		u.showBanner(ev.Name, ev.Text)
	case clientapi.EventSAML:
		u.showSAMLHint(ev.Name, ev.URL)
	case clientapi.EventReauthRequired:
		u.showReauth(ev.Name)
	case clientapi.EventError:
		// Hiding a dialog also removes the dialogs above it: close the
		// sign-in dialog before the problem is shown.
		u.closeSAMLHint(ev.Name)
		p := Explain(ev.Message, false)
		u.notify(p.Title+" ("+ev.Name+")", p.Advice)
		u.showProblem(ev.Name, p)
	case clientapi.EventRouteEnforced:
		if ev.Action == "removed" {
			u.notify("Route removed", fmt.Sprintf("%s conflicted with %s and was removed while connected.", ev.Route, ev.Name))
		}
	}
	u.refresh()
}

func (u *UI) onStateChange(ev ConnEvent, prev clientapi.State) {
	switch {
	case ev.State == clientapi.StateConnected && prev != clientapi.StateConnected:
		body := "Tunnel is up"
		if ev.TunnelIPv4 != "" {
			body += ", address " + ev.TunnelIPv4
		}
		u.notify("Connected to "+ev.Name, body+".")
		u.closeSAMLHint(ev.Name)
	case ev.State == clientapi.StateDisconnected && prev != clientapi.StateDisconnected && prev != "":
		u.notify("Disconnected from "+ev.Name, "The VPN connection is closed.")
		u.closeSAMLHint(ev.Name)
	case ev.State == clientapi.StateConnected || ev.State == clientapi.StateConfiguring:
		u.closeSAMLHint(ev.Name)
	}
}

func (u *UI) applyStatus(list []ConnStatus) {
	for _, n := range u.m.applyStatus(u.now(), list) {
		u.notify("Disconnected from "+n, "The VPN connection is closed.")
		u.closeSAMLHint(n)
	}
	for _, lw := range u.logWins {
		lw.refresh()
	}
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
	for _, n := range append(u.m.active(), u.m.unknown()...) {
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
	if Idle(u.m.state(name)) {
		u.Connect(name)
		return
	}
	u.Disconnect(name)
}

// Connect asks the backend to connect a profile.
func (u *UI) Connect(name string) {
	c := u.m.get(name)
	prev := c.status.State
	c.status.State = clientapi.StateResolving
	c.status.LastError = ""
	c.requested = true
	c.addLog(u.now(), "connect requested")
	u.refresh()
	creds := &prompter{u: u, name: name}
	u.runAsync(func() {
		ctx, cancel := u.requestCtx()
		defer cancel()
		err := u.b.Connect(ctx, name, creds)
		if err == nil {
			u.post(u.ctx, func() { u.m.get(name).requested = false })
		} else {
			u.post(u.ctx, func() {
				c := u.m.get(name)
				c.requested = false
				if c.status.State != clientapi.StateResolving {
					// Events or a status poll said more since.
					c.addLog(u.now(), "connect failed: "+err.Error())
					u.showProblem(name, ExplainError(err))
					return
				}
				c.status.State = clientapi.StateDisconnected
				if prev == StateUnknown && errors.Is(err, ErrDaemonNotRunning) {
					c.status.State = StateUnknown // still nobody to ask
				}
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
	prev := c.status.State
	c.status.State = clientapi.StateDisconnecting
	c.addLog(u.now(), "disconnect requested")
	u.refresh()
	u.runAsync(func() {
		ctx, cancel := u.requestCtx()
		defer cancel()
		if err := u.b.Disconnect(ctx, name); err != nil {
			u.post(u.ctx, func() {
				c := u.m.get(name)
				c.addLog(u.now(), "disconnect failed: "+err.Error())
				if c.status.State == clientapi.StateDisconnecting {
					// Nothing changed: show what was there before, or
					// unknown when the service is gone.
					c.status.State = prev
					if errors.Is(err, ErrDaemonNotRunning) || u.m.serviceDown {
						c.status = ConnStatus{Name: name, State: StateUnknown, Server: c.status.Server, LastError: c.status.LastError}
					}
				}
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
	if len(u.m.unknown()) > 0 {
		title = "cvpn — service stopped"
	} else if act := u.m.active(); len(act) > 0 {
		n := 0
		for _, a := range act {
			if u.m.state(a) == clientapi.StateConnected {
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
