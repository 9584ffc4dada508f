package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// showSettings shows the preferences dialog. Changes apply at once.
func (u *UI) showSettings() {
	prefs := u.app.Preferences()
	notif := widget.NewCheck("Show desktop notifications (connected, disconnected, errors)", func(on bool) {
		prefs.SetBool(PrefNotifications, on)
	})
	notif.SetChecked(prefs.BoolWithFallback(PrefNotifications, true))
	items := []fyne.CanvasObject{notif}
	if u.opts.SetAutostart != nil {
		var auto *widget.Check
		auto = widget.NewCheck("Open cvpn when I log in", func(on bool) {
			if err := u.opts.SetAutostart(on); err != nil {
				u.showProblem("", Problem{Title: "Cannot change the login setting", Advice: "Check that your autostart folder is writable.", Detail: err.Error()})
				auto.SetChecked(!on)
				return
			}
			prefs.SetBool(PrefAutostart, on)
		})
		auto.Checked = prefs.BoolWithFallback(PrefAutostart, false)
		items = append(items, auto)
	}
	if u.hasTray {
		tray := widget.NewCheck("Keep running in the system tray when the window is closed", func(on bool) {
			prefs.SetBool(PrefCloseToTray, on)
		})
		tray.SetChecked(prefs.BoolWithFallback(PrefCloseToTray, true))
		items = append(items, tray)
	}
	if u.opts.SaveDiagnostics != nil {
		items = append(items, widget.NewButton("Save diagnostics…", u.saveDiagnostics))
	}
	d := dialog.NewCustom("Settings", "Close", container.NewVBox(items...), u.win)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}
