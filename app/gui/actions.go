package gui

// This file holds what the user asks of the UI: connect, disconnect, quit,
// and the profile list.

import (
	"errors"
	"sort"
	"strings"

	"fyne.io/fyne/v2"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

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
	c.requestSeq = u.requests.Add(1)
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
