package gui

import (
	"context"
	"image/color"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// Test hooks: run backend calls on the calling goroutine and read events
// only when Drain is called, so flows are deterministic.

func (u *UI) UseSyncForTest() error {
	u.runAsync = func(f func()) { f() }
	ch, err := u.b.Events(u.ctx)
	u.events = ch
	return err
}

func (u *UI) Drain() { u.drain() }

// StartFollowForTest runs the goroutine that follows the backend (events,
// status polls, reconnects) while the test drains the inbox with Drain on
// its own goroutine, so every widget change stays on the test goroutine.
func (u *UI) StartFollowForTest() {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.follow()
	}()
}

func (u *UI) Summary() string             { return u.main.summary.Text }
func (u *UI) StateColor() color.Color     { return u.main.state.Color }
func (u *UI) ModelLog(name string) string { return strings.Join(u.m.get(name).log, "\n") }

func (u *UI) Poll() {
	asked := u.requests.Load()
	list, err := u.b.Status(context.Background())
	if err == nil {
		u.applyStatus(asked, list)
	}
}

func (u *UI) ImportURIs(uris []fyne.URI)        { u.importURIs(uris) }
func (u *UI) TrayMenu() *fyne.Menu              { return u.trayMenu() }
func (u *UI) Selected() string                  { return u.selected }
func (u *UI) ShowLog(name string)               { u.showLog(name) }
func (u *UI) LogWindow(name string) fyne.Window { return u.logWins[name].win }
func (u *UI) LogText(name string) string        { return u.logWins[name].content() }
func (u *UI) CopyLog(name string)               { u.logWins[name].copy() }
func (u *UI) StateText() string                 { return u.main.state.Text }
func (u *UI) ToggleButton() *widget.Button      { return u.main.toggle }
func (u *UI) Value(field string) string         { return u.main.values[field].Text }
func (u *UI) ProfileNames() []string            { return u.main.listNames }
func (u *UI) ProgressVisible() bool             { return u.main.progress.Visible() }
func (u *UI) SetServiceProblem(err error)       { u.setServiceProblem(err) }
func (u *UI) ServiceBar() (string, bool) {
	return u.main.serviceTitle.Text, u.main.serviceBar.Visible()
}
func (u *UI) ServiceBarHeight() float32 { return u.main.serviceBar.Size().Height }
func (u *UI) ErrorBox() (string, bool) {
	return u.main.errorTitle.Text, u.main.errorBox.Visible()
}

func (u *UI) TypeShortcut(s fyne.Shortcut) { u.shortcuts.TypedShortcut(s) }
