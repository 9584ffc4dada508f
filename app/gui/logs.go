package gui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// logWindow shows one connection's log with copy and save.
type logWindow struct {
	u    *UI
	name string
	win  fyne.Window
	text *widget.Label
	sc   *container.Scroll
}

func (u *UI) showLog(name string) {
	if name == "" {
		return
	}
	if lw := u.logWins[name]; lw != nil {
		lw.refresh()
		lw.win.Show()
		lw.win.RequestFocus()
		return
	}
	lw := &logWindow{u: u, name: name, win: u.app.NewWindow("Log — " + name)}
	lw.text = widget.NewLabel("")
	lw.text.TextStyle = fyne.TextStyle{Monospace: true}
	lw.text.Selectable = true
	lw.sc = container.NewScroll(lw.text)
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), lw.copy)
	saveBtn := widget.NewButtonWithIcon("Save…", theme.DocumentSaveIcon(), lw.save)
	clearBtn := widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), func() {
		u.m.get(name).log = nil
		lw.refresh()
	})
	lw.win.SetContent(container.NewBorder(nil, container.NewHBox(clearBtn, layout.NewSpacer(), copyBtn, saveBtn), nil, nil, lw.sc))
	lw.win.Resize(fyne.NewSize(720, 420))
	lw.win.SetOnClosed(func() { delete(u.logWins, name) })
	lw.win.Canvas().AddShortcut(&fyne.ShortcutCopy{}, func(fyne.Shortcut) { lw.copy() })
	u.logWins[name] = lw
	lw.refresh()
	lw.win.Show()
}

func (lw *logWindow) content() string {
	lines := lw.u.m.get(lw.name).log
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func (lw *logWindow) refresh() {
	txt := lw.content()
	if txt == "" {
		lw.text.SetText("No log lines yet for " + lw.name + ".")
		return
	}
	lw.text.SetText(strings.TrimRight(txt, "\n"))
	lw.sc.ScrollToBottom()
}

func (lw *logWindow) copy() {
	lw.u.app.Clipboard().SetContent(lw.content())
}

func (lw *logWindow) save() {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			lw.u.showProblem("", Problem{Title: "Cannot save the log", Advice: "Choose another folder.", Detail: err.Error()})
			return
		}
		if w == nil {
			return
		}
		_, werr := w.Write([]byte(lw.content()))
		cerr := w.Close()
		if werr == nil {
			werr = cerr
		}
		if werr != nil {
			lw.u.showProblem("", Problem{Title: "Cannot save the log", Advice: "Choose another folder.", Detail: w.URI().String() + ": " + werr.Error()})
		}
	}, lw.win)
	d.SetFileName("cvpn-" + lw.name + ".log")
	d.Show()
	d.Resize(fyne.NewSize(680, 440))
}
