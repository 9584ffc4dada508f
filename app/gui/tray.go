package gui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/cvpn/cvpn/app/gui/assets"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// installTray sets up the system tray when the driver has one. With a
// tray, closing the window hides it (unless turned off in settings).
func (u *UI) installTray() {
	desk, ok := u.app.(desktop.App)
	if !ok {
		return
	}
	u.hasTray = true
	u.trayTone = -1
	desk.SetSystemTrayWindow(u.win)
	u.win.SetCloseIntercept(func() {
		if u.app.Preferences().BoolWithFallback(PrefCloseToTray, true) {
			u.win.Hide()
			return
		}
		u.Quit()
	})
}

// trayState summarises every connection: the tray tone and a one-line
// description.
func (u *UI) trayState() (assets.Tone, string) {
	var up, busy []string
	failed := false
	for _, n := range u.names() {
		c := u.m.get(n)
		switch s := c.status.State; {
		case s == clientapi.StateConnected:
			up = append(up, n)
		case Busy(s):
			busy = append(busy, n)
		case c.status.LastError != "":
			failed = true
		}
	}
	switch {
	case len(u.m.unknown()) > 0:
		return assets.ToneError, "Service stopped: " + strings.Join(u.m.unknown(), ", ") + " unknown"
	case len(busy) > 0:
		return assets.ToneBusy, StateLabel(u.m.state(busy[0])) + ": " + strings.Join(busy, ", ")
	case len(up) > 0:
		return assets.ToneConnected, "Connected: " + strings.Join(up, ", ")
	case failed:
		return assets.ToneError, "Not connected (last attempt failed)"
	default:
		return assets.ToneIdle, "Not connected"
	}
}

// trayMenu builds the tray menu: status line, one connect/disconnect item
// per profile, open window. fyne adds Quit.
func (u *UI) trayMenu() *fyne.Menu {
	_, line := u.trayState()
	status := fyne.NewMenuItem(line, nil)
	status.Disabled = true
	items := []*fyne.MenuItem{status, fyne.NewMenuItemSeparator()}
	for _, n := range u.names() {
		name := n
		label := "Connect " + name
		st := u.m.state(name)
		if !Idle(st) {
			label = "Disconnect " + name
		}
		it := fyne.NewMenuItem(label, func() { u.Toggle(name) })
		it.Checked = st == clientapi.StateConnected
		items = append(items, it)
	}
	if len(items) == 2 && u.b.UserProfilesAllowed() {
		imp := fyne.NewMenuItem("Import profile…", func() { u.win.Show(); u.showImport() })
		items = append(items, imp)
	}
	items = append(items, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Open cvpn", func() {
		u.win.Show()
		u.win.RequestFocus()
	}))
	return fyne.NewMenu("cvpn", items...)
}

// menuKey is a signature of a menu so the tray is rebuilt only on change.
func menuKey(m *fyne.Menu) string {
	var b strings.Builder
	for _, it := range m.Items {
		b.WriteString(it.Label)
		if it.Checked {
			b.WriteString("*")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (u *UI) updateTray() {
	if !u.hasTray {
		return
	}
	desk := u.app.(desktop.App)
	tone, _ := u.trayState()
	if tone != u.trayTone {
		u.trayTone = tone
		desk.SetSystemTrayIcon(assets.Resource(tone))
	}
	m := u.trayMenu()
	if k := menuKey(m); k != u.trayKey {
		u.trayKey = k
		desk.SetSystemTrayMenu(m)
	}
}
