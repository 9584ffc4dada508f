package gui

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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
	// AtLogin: the app was started by the login entry; once the daemon's
	// status is known it connects the profiles marked "connect when I log
	// in".
	AtLogin bool
	// ManagedAutoconnect are the policy's autoconnect profiles. The daemon
	// cannot connect one that needs a password, MFA code or browser
	// sign-in; the app asks for it: at its first status, each of these
	// that is not open is connected from here, as this user.
	ManagedAutoconnect []string
	// SaveDiagnostics writes a support bundle and returns its path; nil
	// hides "Save diagnostics".
	SaveDiagnostics func(ctx context.Context) (string, error)
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
	// reauthDlgs are the open "Sign in again" dialogs (reauth.go).
	reauthDlgs map[string]dialog.Dialog
	// pendingWeb are the web sign-in pages shown once "Sign in again" is
	// answered (dialogs.go showWebSignIn).
	pendingWeb map[string]string

	// requests counts this app's connect requests; status snapshots
	// carry the count from when they were asked for (model.applyStatus).
	requests atomic.Uint64

	loginPending    bool   // Options.AtLogin, until the first status
	firstSync       bool   // the first status has been applied
	lastDiagnostics string // path of the last bundle saved
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

		loginPending: o.AtLogin,
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
func (u *UI) ApplyStatus(list []ConnStatus) { u.applyStatus(u.requests.Load(), list) }
