package gui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// ErrCancelled is returned to the backend when the user closes a
// credential or MFA dialog without answering.
var ErrCancelled = errors.New("sign-in cancelled by the user")

// showImport opens the file dialog for .ovpn files.
func (u *UI) showImport() {
	if !u.mayChangeProfiles() {
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			u.showProblem("", Problem{Title: "Cannot open the file", Advice: "Choose another file.", Detail: err.Error()})
			return
		}
		if r == nil {
			return
		}
		uri := r.URI()
		r.Close()
		u.importURIs([]fyne.URI{uri})
	}, u.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".ovpn", ".conf"}))
	d.SetConfirmText("Import")
	d.Show()
	d.Resize(fyne.NewSize(720, 480))
}

// importURIs imports dropped or chosen files. A name that is taken gets a
// "-2", "-3" ... suffix.
func (u *UI) importURIs(uris []fyne.URI) {
	if !u.mayChangeProfiles() {
		return
	}
	var errs []error
	var notes []string
	last := ""
	for _, uri := range uris {
		if uri.Scheme() != "file" {
			errs = append(errs, fmt.Errorf("%s: only local files can be imported", uri))
			continue
		}
		e, ds, err := u.importPath(uri.Path())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		last = e.Name
		for _, d := range ds {
			if d.Severity == profile.SeverityWarning {
				notes = append(notes, d.String())
			}
		}
	}
	if last != "" {
		u.selected = last
	}
	u.reloadProfiles()
	if err := errorsJoin(errs); err != nil {
		u.showProblem("", Problem{Title: "Some files could not be imported",
			Advice: "Each line below names the file, line and problem. Ask your IT team for a corrected profile.", Detail: err.Error()})
	} else if len(notes) > 0 {
		u.showInfo("Profile imported with warnings", strings.Join(notes, "\n"))
	}
}

func (u *UI) importPath(path string) (profilestore.Entry, profile.Diagnostics, error) {
	base := profilestore.NameFromPath(path)
	name := base
	for i := 2; ; i++ {
		e, ds, err := u.b.Import(path, name)
		if err == nil || !errors.Is(err, profilestore.ErrExists) || i > 20 {
			if err != nil {
				var pe *profile.ProfileError
				if errors.As(err, &pe) || len(ds) > 0 {
					err = fmt.Errorf("%s", ds.String())
				}
			}
			return e, ds, err
		}
		suffix := fmt.Sprintf("-%d", i)
		if len(base)+len(suffix) > profilestore.MaxNameLen {
			base = base[:profilestore.MaxNameLen-len(suffix)]
		}
		name = base + suffix
	}
}

func (u *UI) showInfo(title, text string) {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(title, "OK", l, u.win)
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
}

// showRename asks for a new name.
func (u *UI) showRename(name string) {
	if name == "" {
		return
	}
	if !Idle(u.m.state(name)) {
		u.showInfo("Disconnect first", "Rename "+name+" after disconnecting it.")
		return
	}
	e := widget.NewEntry()
	e.SetText(name)
	e.Validator = profilestore.ValidateName
	d := dialog.NewForm("Rename profile", "Rename", "Cancel", []*widget.FormItem{
		widget.NewFormItem("New name", e),
	}, func(ok bool) {
		if !ok || e.Text == name {
			return
		}
		if err := u.b.Rename(name, e.Text); err != nil {
			u.showProblem("", Problem{Title: "Cannot rename the profile", Advice: "Choose another name.", Detail: err.Error()})
			return
		}
		u.selected = e.Text
		u.reloadProfiles()
	}, u.win)
	d.Resize(fyne.NewSize(420, 0))
	d.Show()
	u.win.Canvas().Focus(e)
}

func (u *UI) confirmRemove(name string) {
	if name == "" {
		return
	}
	if !Idle(u.m.state(name)) {
		u.showInfo("Disconnect first", "Remove "+name+" after disconnecting it.")
		return
	}
	dialog.ShowConfirm("Remove "+name+"?", "The stored copy of this profile is deleted. You can import the file again later.",
		func(ok bool) {
			if !ok {
				return
			}
			if err := u.b.Remove(name); err != nil {
				u.showProblem("", Problem{Title: "Cannot remove the profile", Advice: "Check the cvpn data folder.", Detail: err.Error()})
				return
			}
			if u.selected == name {
				u.selected = ""
			}
			u.reloadProfiles()
		}, u.win)
}

// showDetails shows the profile summary (never key material).
func (u *UI) showDetails(name string) {
	if name == "" {
		return
	}
	d, err := u.b.Show(name)
	if err != nil {
		u.showProblem(name, Problem{Title: "Cannot read the profile", Advice: "Import it again.", Detail: err.Error()})
		return
	}
	var b strings.Builder
	if err := d.Profile.WriteText(&b); err != nil {
		b.WriteString(err.Error())
	}
	for _, diag := range d.Diagnostics {
		b.WriteString(diag.String() + "\n")
	}
	text := widget.NewLabel(strings.TrimRight(b.String(), "\n"))
	text.TextStyle = fyne.TextStyle{Monospace: true}
	text.Selectable = true
	sc := container.NewScroll(text)
	sc.SetMinSize(fyne.NewSize(560, 360))
	dialog.NewCustom("Profile "+name, "Close", sc, u.win).Show()
}

// showBanner shows the login banner of a new session. Declining it
// disconnects, like the AWS client.
func (u *UI) showBanner(name, text string) {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	sc := container.NewVScroll(l)
	sc.SetMinSize(fyne.NewSize(480, 160))
	d := dialog.NewCustomConfirm("Message from "+name, "Accept", "Disconnect", sc, func(ok bool) {
		if !ok {
			u.Disconnect(name)
		}
	}, u.win)
	d.Show()
}

// samlHint is the "finish signing in" dialog of one connection.
type samlHint struct{ d dialog.Dialog }

// showSAMLHint tells the user to finish signing in in the browser. The
// dialog has what a user needs while the flow waits: open the page
// again, copy its address (to paste into another browser), cancel the
// sign-in (which disconnects and frees port 35001), or hide the dialog.
func (u *UI) showSAMLHint(name, rawURL string) {
	u.showBrowserWait(name, rawURL, browserWaitText{
		message: "Finish signing in to " + name + " in your web browser. This window updates when you are done.",
		open:    "Open the sign-in page again", cancel: "Cancel sign-in",
	})
}

// showWebSignIn is the waiting state of an OpenVPN server's web sign-in
// (WEB_AUTH / OPEN_URL): the app has opened the server's page in the
// browser; the server decides and the window updates. While a "Sign in
// again" question is open the page waits for its answer (reauth.go).
func (u *UI) showWebSignIn(name, rawURL string) {
	if u.reauthDlgs[name] != nil {
		if u.pendingWeb == nil {
			u.pendingWeb = map[string]string{}
		}
		u.pendingWeb[name] = rawURL
		return
	}
	delete(u.pendingWeb, name)
	u.showBrowserWait(name, rawURL, browserWaitText{
		message: "Waiting for you to sign in to " + name + " in your browser…",
		open:    "Open again", cancel: "Cancel",
	})
}

// browserWaitText is the wording of a browser sign-in's waiting dialog.
type browserWaitText struct{ message, open, cancel string }

// showBrowserWait shows the waiting dialog of a browser sign-in of name
// (one per connection: it replaces the last one).
func (u *UI) showBrowserWait(name, rawURL string, txt browserWaitText) {
	u.closeSAMLHint(name)
	msg := widget.NewLabel(txt.message)
	msg.Wrapping = fyne.TextWrapWord
	items := []fyne.CanvasObject{msg}
	if parsed, err := url.Parse(rawURL); err == nil && rawURL != "" && (parsed.Scheme == "https" || parsed.Scheme == "http") {
		items = append(items,
			widget.NewButton(txt.open, func() {
				u.runAsync(func() {
					if err := u.openURL(u.ctx, rawURL); err != nil {
						u.post(u.ctx, func() {
							u.m.get(name).addLog(u.now(), "cannot open the browser: "+err.Error())
							u.showProblem(name, Problem{Title: "Cannot open the browser",
								Advice: "Click Copy address in the sign-in dialog and paste the address into your browser " +
									"(the connection log has it too).", Detail: err.Error()})
						})
					}
				})
			}),
			widget.NewButton("Copy address", func() {
				u.app.Clipboard().SetContent(rawURL)
				u.m.get(name).addLog(u.now(), "sign-in address copied to the clipboard")
			}))
	}
	cancel := widget.NewButton(txt.cancel, func() {
		u.closeSAMLHint(name)
		u.Disconnect(name)
	})
	cancel.Importance = widget.DangerImportance
	items = append(items, cancel)
	d := dialog.NewCustom("Sign in with your browser", "Hide", container.NewVBox(items...), u.win)
	d.Resize(fyne.NewSize(460, 0))
	if u.samlHints == nil {
		u.samlHints = map[string]*samlHint{}
	}
	u.samlHints[name] = &samlHint{d: d}
	d.Show()
}

func (u *UI) closeSAMLHint(name string) {
	delete(u.pendingWeb, name)
	if h := u.samlHints[name]; h != nil {
		h.d.Hide()
		delete(u.samlHints, name)
	}
}

// showProblem shows an error in human words, replacing any error dialog
// already open.
func (u *UI) showProblem(name string, p Problem) {
	if u.errDlg != nil {
		u.errDlg.Hide()
	}
	advice := widget.NewLabel(p.Advice)
	advice.Wrapping = fyne.TextWrapWord
	items := []fyne.CanvasObject{advice}
	if p.Detail != "" {
		det := widget.NewLabel(p.Detail)
		det.Wrapping = fyne.TextWrapWord
		det.Selectable = true
		det.TextStyle = fyne.TextStyle{Monospace: true}
		acc := widget.NewAccordion(widget.NewAccordionItem("Details", det))
		acc.Open(0)
		items = append(items, acc)
	}
	var d *dialog.CustomDialog
	if name != "" && p.Retry {
		retry := widget.NewButton("Try again", func() {
			d.Hide()
			if u.m.state(name) == clientapi.StateDisconnected {
				u.Connect(name)
			}
		})
		retry.Importance = widget.HighImportance
		items = append(items, retry)
	}
	if name != "" {
		items = append(items, widget.NewButton("Show log", func() { u.showLog(name) }))
	}
	d = dialog.NewCustom(p.Title, "OK", container.NewVBox(items...), u.win)
	d.Resize(fyne.NewSize(500, 0))
	d.SetOnClosed(func() {
		if u.errDlg == d {
			u.errDlg = nil
		}
	})
	u.errDlg = d
	d.Show()
}

// prompter answers a connection's credential requests with dialogs. Its
// methods are called by the backend from any goroutine.
type prompter struct {
	u    *UI
	name string
}

var _ clientapi.Credentials = (*prompter)(nil)

type promptReply struct {
	a, b string
	err  error
}

// ask shows a dialog on the main goroutine and waits for the answer or ctx.
func (p *prompter) ask(ctx context.Context, show func(reply func(promptReply)) dialog.Dialog) (promptReply, error) {
	replies := make(chan promptReply, 1)
	var d dialog.Dialog // only touched on the main goroutine
	if !p.u.post(ctx, func() {
		d = show(func(r promptReply) {
			select {
			case replies <- r:
			default:
			}
		})
	}) {
		return promptReply{}, context.Cause(ctx)
	}
	select {
	case r := <-replies:
		return r, r.err
	case <-ctx.Done():
		p.u.post(p.u.ctx, func() {
			if d != nil {
				d.Hide()
			}
		})
		return promptReply{}, ctx.Err()
	case <-p.u.ctx.Done():
		return promptReply{}, ErrCancelled
	}
}

// UserPass implements clientapi.Credentials.
func (p *prompter) UserPass(ctx context.Context, reason string) (string, string, error) {
	r, err := p.ask(ctx, func(reply func(promptReply)) dialog.Dialog { return p.u.showUserPass(p.name, reason, reply) })
	return r.a, r.b, err
}

// Challenge implements clientapi.Credentials.
func (p *prompter) Challenge(ctx context.Context, text string, echo bool) (string, error) {
	r, err := p.ask(ctx, func(reply func(promptReply)) dialog.Dialog { return p.u.showChallenge(p.name, text, echo, reply) })
	return r.a, err
}

func (u *UI) showUserPass(name, reason string, reply func(promptReply)) dialog.Dialog {
	user := widget.NewEntry()
	user.SetPlaceHolder("user name")
	pass := widget.NewPasswordEntry()
	pass.SetPlaceHolder("password")
	items := []*widget.FormItem{}
	if reason != "" {
		r := widget.NewLabel(reason)
		r.Wrapping = fyne.TextWrapWord
		r.Importance = widget.DangerImportance
		items = append(items, widget.NewFormItem("", r))
	}
	items = append(items, widget.NewFormItem("User name", user), widget.NewFormItem("Password", pass))
	d := dialog.NewForm("Sign in to "+name, "Sign in", "Cancel", items, func(ok bool) {
		if !ok {
			reply(promptReply{err: ErrCancelled})
			return
		}
		reply(promptReply{a: user.Text, b: pass.Text})
	}, u.win)
	d.Resize(fyne.NewSize(420, 0))
	d.Show()
	u.win.Canvas().Focus(user)
	return d
}

func (u *UI) showChallenge(name, text string, echo bool, reply func(promptReply)) dialog.Dialog {
	var code *widget.Entry
	if echo {
		code = widget.NewEntry()
	} else {
		code = widget.NewPasswordEntry()
	}
	code.SetPlaceHolder("code")
	prompt := strings.TrimSpace(text)
	if prompt == "" {
		prompt = "Enter the verification code from your authenticator."
	}
	msg := widget.NewLabel(prompt)
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewForm("Verification code for "+name, "Verify", "Cancel", []*widget.FormItem{
		widget.NewFormItem("", msg),
		widget.NewFormItem("Code", code),
	}, func(ok bool) {
		if !ok {
			reply(promptReply{err: ErrCancelled})
			return
		}
		reply(promptReply{a: strings.TrimSpace(code.Text)})
	}, u.win)
	d.Resize(fyne.NewSize(420, 0))
	d.Show()
	u.win.Canvas().Focus(code)
	return d
}
