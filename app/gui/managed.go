package gui

// This file holds what the administrator's policy changes in the window
// (managed profiles, no user profiles), the per-profile options "connect
// when I log in" and "reconnect after resume", connecting at login, and
// "Save diagnostics".

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/profilestore"
)

// managedWidgets are the widgets the policy shows or hides.
type managedWidgets struct {
	importBtn, emptyBtn  *widget.Button
	renameBtn, removeBtn *widget.Button
	hint                 *widget.Label
	note                 *widget.Label
	login, resume        *widget.Check
	opts                 *fyne.Container
	loading              bool // refreshProfileOptions is setting the checks
}

// buildProfileOptions builds the managed note and the per-profile checks.
func (u *UI) buildProfileOptions(w *managedWidgets) fyne.CanvasObject {
	w.note = widget.NewLabel("Managed by your administrator: this profile cannot be renamed or removed here.")
	w.note.Wrapping = fyne.TextWrapWord
	set := func(change func(*profilestore.Settings, bool)) func(bool) {
		return func(on bool) {
			if w.loading || u.selected == "" {
				return
			}
			st, err := u.b.Settings(u.selected)
			if err == nil {
				change(&st, on)
				err = u.b.SetSettings(u.selected, st)
			}
			if err != nil {
				u.showProblem(u.selected, Problem{Title: "Cannot save the profile's settings", Advice: "Check that the cvpn data folder is writable.", Detail: err.Error()})
				u.refreshProfileOptions(w)
			}
		}
	}
	w.login = widget.NewCheck("Connect when I log in", set(func(s *profilestore.Settings, on bool) { s.ConnectAtLogin = on }))
	w.resume = widget.NewCheck("Reconnect after the computer wakes up", set(func(s *profilestore.Settings, on bool) { s.ReconnectAfterResume = on }))
	w.opts = container.NewVBox(w.login, w.resume)
	return container.NewVBox(w.note, w.opts)
}

// refreshProfileOptions shows what the selected profile allows (main
// goroutine).
func (u *UI) refreshProfileOptions(w *managedWidgets) {
	allowed := u.b.UserProfilesAllowed()
	for _, b := range []*widget.Button{w.importBtn, w.emptyBtn} {
		if allowed {
			b.Show()
		} else {
			b.Hide()
		}
	}
	if allowed {
		w.hint.SetText("Drop .ovpn files here to add them")
	} else {
		w.hint.SetText("Profiles are managed by your administrator")
	}
	managed := u.selected != "" && u.b.Managed(u.selected)
	if managed || !allowed {
		w.renameBtn.Hide()
		w.removeBtn.Hide()
	} else {
		w.renameBtn.Show()
		w.removeBtn.Show()
	}
	stored := u.selected != "" && u.profileIndex(u.selected) >= 0
	switch {
	case managed:
		w.note.Show()
		w.opts.Hide()
	case stored:
		w.note.Hide()
		st, err := u.b.Settings(u.selected)
		if err != nil {
			st = profilestore.DefaultSettings()
		}
		w.loading = true
		w.login.SetChecked(st.ConnectAtLogin)
		w.resume.SetChecked(st.ReconnectAfterResume)
		w.loading = false
		w.opts.Show()
	default:
		w.note.Hide()
		w.opts.Hide()
	}
}

// PolicyProblem shows that the administrator's policy file could not be
// used (main goroutine); the app then runs with user profiles refused, as
// the safe reading of a policy it cannot read.
func (u *UI) PolicyProblem(err error) {
	u.showProblem("", Problem{Title: "The cvpn policy file has an error",
		Advice: "Your administrator's settings could not be read; the cvpn service does not start until the file is fixed. Tell your IT department.",
		Detail: err.Error()})
}

// mayChangeProfiles tells the user when the policy forbids it; true when
// allowed.
func (u *UI) mayChangeProfiles() bool {
	if u.b.UserProfilesAllowed() {
		return true
	}
	u.showProblem("", Problem{Title: "Profiles are managed by your administrator",
		Advice: "The cvpn policy on this computer does not allow adding, renaming or removing profiles. Ask your IT department."})
	return false
}

// connectAtLogin connects, once, every profile of the user marked "connect
// when I log in" that is not open yet (main goroutine, after the first
// status from the daemon).
func (u *UI) connectAtLogin() {
	for _, p := range u.profiles {
		if p.Managed || !Idle(u.m.state(p.Name)) {
			continue
		}
		if st, err := u.b.Settings(p.Name); err == nil && st.ConnectAtLogin {
			u.log.Info("connecting at login", "name", p.Name)
			u.Connect(p.Name)
		}
	}
}

// connectManaged connects the policy's autoconnect profiles the daemon
// has not got up (they need a user to sign in), so that this user is asked
// (main goroutine, once, after the first status). Only the app of the
// active desktop session does (the daemon says, DesktopSession); one in
// another session just shows their status.
func (u *UI) connectManaged() {
	var pending []string
	for _, n := range u.opts.ManagedAutoconnect {
		if u.b.Managed(n) && Idle(u.m.state(n)) {
			pending = append(pending, n)
		}
	}
	if len(pending) == 0 {
		return
	}
	connect := func() {
		for _, n := range pending {
			if Idle(u.m.state(n)) {
				u.log.Info("connecting a managed profile the service could not connect alone", "name", n)
				u.Connect(n)
			}
		}
	}
	ds, ok := u.b.(DesktopSession)
	if !ok {
		connect()
		return
	}
	u.runAsync(func() {
		ctx, cancel := u.requestCtx()
		defer cancel()
		active, reason, err := ds.ActiveDesktopSession(ctx)
		u.post(u.ctx, func() {
			switch {
			case err != nil:
				u.log.Info("the service cannot tell whether this is the active desktop session; connecting the managed profiles", "err", err)
			case !active:
				u.log.Info("not the active desktop session: the managed profiles are left to the app there", "reason", reason, "profiles", pending)
				return
			}
			connect()
		})
	})
}

// saveDiagnostics writes a support bundle through Options.SaveDiagnostics
// and says where it went.
func (u *UI) saveDiagnostics() {
	save := u.opts.SaveDiagnostics
	u.runAsync(func() {
		ctx, cancel := context.WithTimeout(u.ctx, 2*u.opts.RequestTimeout)
		defer cancel()
		path, err := save(ctx)
		u.post(u.ctx, func() {
			if err != nil {
				u.showProblem("", Problem{Title: "Cannot save diagnostics", Advice: "Check that your home folder is writable.", Detail: err.Error()})
				return
			}
			u.lastDiagnostics = path
			dialog.ShowInformation("Diagnostics saved",
				"The support bundle is saved as\n"+path+"\nSecrets (keys, passwords, tokens) are removed. Send it to your IT department.", u.win)
		})
	})
}
