package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// signInAgainer is a backend that holds a connection's browser sign-in,
// after its federated sign-in expired, until the user asks for it
// (daemonbackend.Backend); SignInAgain starts exactly one sign-in however
// often it is called.
type signInAgainer interface {
	SignInAgain(name string) bool
}

// showReauth asks the user to sign in again after the server ended a
// federated or web sign-in (session timeout): one "Sign in again" button starts
// the browser sign-in, once; "Disconnect" gives up the connection.
func (u *UI) showReauth(name string) {
	u.closeSAMLHint(name)
	if d := u.reauthDlgs[name]; d != nil {
		return // already asked: a repeated trigger shows nothing new
	}
	msg := widget.NewLabel("Your sign-in to " + name + " has expired. Sign in again with your browser to stay connected.")
	msg.Wrapping = fyne.TextWrapWord
	answered := false
	d := dialog.NewCustomConfirm("Sign in again", "Sign in again", "Disconnect", msg, func(again bool) {
		if answered {
			return // a double click answers once
		}
		answered = true
		delete(u.reauthDlgs, name)
		page := u.pendingWeb[name]
		delete(u.pendingWeb, name)
		if !again {
			u.Disconnect(name)
			return
		}
		if s, ok := u.b.(signInAgainer); ok {
			u.runAsync(func() { s.SignInAgain(name) })
		}
		if page != "" {
			// A web sign-in page arrived while the question was open:
			// the backend opens it now; wait for the user there.
			u.showWebSignIn(name, page)
		}
	}, u.win)
	d.Resize(fyne.NewSize(460, 0))
	if u.reauthDlgs == nil {
		u.reauthDlgs = map[string]dialog.Dialog{}
	}
	u.reauthDlgs[name] = d
	u.notify("Sign in again", "Your sign-in to "+name+" has expired.")
	d.Show()
}
