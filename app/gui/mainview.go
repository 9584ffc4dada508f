package gui

import (
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/gui/assets"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// mainView holds the widgets of the main window.
type mainView struct {
	u    *UI
	root fyne.CanvasObject

	serviceBar   *fyne.Container
	top          *fyne.Container // header, service bar, separator
	serviceTitle *widget.Label
	serviceText  *widget.Label
	summary      *widget.Label

	list      *widget.List
	listNames []string

	empty  fyne.CanvasObject
	detail fyne.CanvasObject
	right  *fyne.Container

	shield      *canvas.Image
	name        *widget.Label
	state       *canvas.Text
	progress    *widget.ProgressBar
	toggle      *widget.Button
	errorBox    *fyne.Container
	errorTitle  *widget.Label
	errorAdvice *widget.Label
	values      map[string]*widget.Label
	head        *fyne.Container
	managed     managedWidgets
	block       *blockControls
}

var statFields = []string{"Server", "Tunnel IPv4", "Tunnel IPv6", "Interface", "Cipher", "Connected for", "Received", "Sent"}

func (u *UI) buildMain() *mainView {
	v := &mainView{u: u, values: map[string]*widget.Label{}}

	// Header: icon, product name, connection summary, actions.
	logo := canvas.NewImageFromResource(assets.Icon())
	logo.FillMode = canvas.ImageFillContain
	logo.SetMinSize(fyne.NewSize(32, 32))
	title := widget.NewLabelWithStyle("cvpn", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	styleLabel(title, roleHeaderTitle)
	v.summary = widget.NewLabel("")
	styleLabel(v.summary, roleHeaderSummary)
	importBtn := widget.NewButtonWithIcon("Import profile", theme.ContentAddIcon(), u.showImport)
	settingsBtn := widget.NewButtonWithIcon("", theme.SettingsIcon(), u.showSettings)
	header := container.NewHBox(logo, title, v.summary, layout.NewSpacer(), importBtn, settingsBtn)
	v.managed.importBtn = importBtn

	// Shown when the daemon cannot be reached.
	v.serviceTitle = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.serviceText = widget.NewLabel("")
	v.serviceText.Wrapping = fyne.TextWrapWord
	bg := canvas.NewRectangle(warningTint().current())
	bg.CornerRadius = theme.InputRadiusSize()
	v.serviceBar = container.NewStack(bg, container.NewPadded(container.NewVBox(v.serviceTitle, v.serviceText)))
	v.serviceBar.Hide()

	// Left: profiles with a status dot and a connect/disconnect button each.
	v.list = widget.NewList(
		func() int { return len(v.listNames) },
		func() fyne.CanvasObject { return newProfileRow(u) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(v.listNames) {
				o.(*profileRow).set(v.listNames[id])
			}
		})
	v.list.OnSelected = func(id widget.ListItemID) {
		if id < len(v.listNames) {
			u.selected = v.listNames[id]
			v.refreshDetail()
		}
	}
	listTitle := widget.NewLabelWithStyle("PROFILES", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	styleLabel(listTitle, roleListHeading)
	hint := widget.NewLabel("Drop .ovpn files here to add them")
	styleLabel(hint, roleListHint)
	left := container.NewBorder(listTitle, hint, nil, nil, v.list)

	// Right: the selected profile.
	v.shield = canvas.NewImageFromResource(assets.Resource(assets.ToneIdle))
	v.shield.FillMode = canvas.ImageFillContain
	v.shield.SetMinSize(fyne.NewSize(64, 64))
	v.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	styleLabel(v.name, roleProfileName)
	v.state = canvas.NewText("", nil)
	styleText(v.state, roleStateIdle)
	v.progress = widget.NewProgressBar()
	v.progress.TextFormatter = func() string { return "" }
	v.toggle = widget.NewButtonWithIcon("Connect", theme.LoginIcon(), func() { u.Toggle(u.selected) })
	v.toggle.Importance = widget.HighImportance

	nameBox := container.NewVBox(v.name, container.NewHBox(container.NewPadded(v.state)))
	top := container.NewBorder(nil, nil, v.shield, container.NewCenter(v.toggle), nameBox)

	v.errorTitle = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	styleLabel(v.errorTitle, roleErrorTitle)
	v.errorAdvice = widget.NewLabel("")
	v.errorAdvice.Wrapping = fyne.TextWrapWord
	ebg := canvas.NewRectangle(errorTint().current())
	ebg.CornerRadius = theme.InputRadiusSize()
	v.errorBox = container.NewStack(ebg, container.NewPadded(container.NewVBox(v.errorTitle, v.errorAdvice)))
	v.errorBox.Hide()

	grid := container.New(layout.NewFormLayout())
	for _, f := range statFields {
		k := widget.NewLabel(f)
		styleLabel(k, roleStatKey)
		val := widget.NewLabel("—")
		val.Selectable = true
		v.values[f] = val
		grid.Add(k)
		grid.Add(val)
	}
	card := widget.NewCard("", "", grid)

	logBtn := widget.NewButtonWithIcon("Log", theme.ListIcon(), func() { u.showLog(u.selected) })
	detailsBtn := widget.NewButtonWithIcon("Details", theme.InfoIcon(), func() { u.showDetails(u.selected) })
	renameBtn := widget.NewButtonWithIcon("Rename", theme.DocumentCreateIcon(), func() { u.showRename(u.selected) })
	removeBtn := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() { u.confirmRemove(u.selected) })
	actions := container.NewHBox(logBtn, detailsBtn, layout.NewSpacer(), renameBtn, removeBtn)
	v.managed.renameBtn, v.managed.removeBtn = renameBtn, removeBtn
	v.managed.hint = hint

	v.block = u.newBlockControls()
	v.head = container.NewVBox(top, v.progress, v.errorBox, v.block.box)
	v.detail = container.NewBorder(
		v.head, actions, nil, nil,
		container.NewVScroll(container.NewVBox(card, u.buildProfileOptions(&v.managed))))

	// Shown when there are no profiles yet.
	emptyIcon := canvas.NewImageFromResource(assets.Icon())
	emptyIcon.FillMode = canvas.ImageFillContain
	emptyIcon.SetMinSize(fyne.NewSize(96, 96))
	emptyTitle := widget.NewLabelWithStyle("Add your first VPN profile", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	styleLabel(emptyTitle, roleEmptyTitle)
	emptyText := widget.NewLabelWithStyle("Your IT team gives you a .ovpn file. Drop it on this window or choose it here.",
		fyne.TextAlignCenter, fyne.TextStyle{})
	emptyText.Wrapping = fyne.TextWrapWord
	emptyBtn := widget.NewButtonWithIcon("Import profile…", theme.ContentAddIcon(), u.showImport)
	emptyBtn.Importance = widget.HighImportance
	v.managed.emptyBtn = emptyBtn
	v.empty = container.NewCenter(container.NewVBox(emptyIcon, emptyTitle, emptyText, container.NewCenter(emptyBtn)))

	v.right = container.NewStack(v.empty)
	split := container.NewHSplit(left, container.NewPadded(v.right))
	split.Offset = 0.4
	v.top = container.NewVBox(container.NewPadded(header), v.serviceBar, widget.NewSeparator())
	v.root = container.NewBorder(v.top, nil, nil, nil, split)
	return v
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

// stateColor is the theme colour for a state.
func stateColor(s clientapi.State, failed bool) color.Color {
	return textColor(stateRole(s, failed))
}

// stateRole is the text role of a state's label.
func stateRole(s clientapi.State, failed bool) role {
	switch {
	case s == StateUnknown:
		return roleStateFailed // service stopped: never green
	case s == clientapi.StateConnected:
		return roleStateConnected
	case Busy(s):
		return roleStateBusy
	case failed:
		return roleStateFailed
	default:
		return roleStateIdle
	}
}

func stateTone(s clientapi.State, failed bool) assets.Tone {
	switch {
	case s == StateUnknown:
		return assets.ToneError
	case s == clientapi.StateConnected:
		return assets.ToneConnected
	case Busy(s):
		return assets.ToneBusy
	case failed:
		return assets.ToneError
	default:
		return assets.ToneIdle
	}
}

func (v *mainView) refresh() {
	v.listNames = v.u.names()
	v.list.Refresh()
	act := v.u.m.active()
	connected := 0
	for _, n := range act {
		if v.u.m.state(n) == clientapi.StateConnected {
			connected++
		}
	}
	unknown := len(v.u.m.unknown())
	switch {
	case len(v.listNames) == 0:
		v.summary.SetText("")
	case unknown > 0:
		v.summary.SetText(fmt.Sprintf("Service stopped: %d unknown", unknown))
	case connected == 0 && len(act) == 0:
		v.summary.SetText("Not connected")
	case connected == len(act):
		v.summary.SetText(fmt.Sprintf("%d connected", connected))
	default:
		v.summary.SetText(fmt.Sprintf("%d connected, %d in progress", connected, len(act)-connected))
	}
	v.refreshDetail()
}

func (v *mainView) refreshDetail() {
	u := v.u
	if u.selected == "" {
		v.right.Objects = []fyne.CanvasObject{v.empty}
		v.right.Refresh()
		return
	}
	if len(v.right.Objects) != 1 || v.right.Objects[0] != v.detail {
		v.right.Objects = []fyne.CanvasObject{v.detail}
		v.right.Refresh()
	}
	c := u.m.get(u.selected)
	st := c.status
	failed := st.LastError != ""
	v.name.SetText(u.selected)
	v.block.refresh(u.selected, c.blocked)
	label := StateLabel(st.State)
	if st.State == clientapi.StateConnected && !st.ConnectedSince.IsZero() {
		label += " · " + FormatDuration(u.now().Sub(st.ConnectedSince))
	}
	if st.Detail != "" && Busy(st.State) {
		label += " — " + st.Detail
	}
	v.state.Text = label
	v.state.Color = stateColor(st.State, failed)
	v.state.Refresh()
	v.shield.Resource = assets.Resource(stateTone(st.State, failed))
	v.shield.Refresh()

	if Busy(st.State) {
		v.progress.SetValue(Progress(st.State))
		v.progress.Show()
	} else {
		v.progress.Hide()
	}
	if Idle(st.State) {
		v.toggle.SetText("Connect")
		v.toggle.SetIcon(theme.LoginIcon())
		v.toggle.Importance = widget.HighImportance
	} else {
		v.toggle.SetText("Disconnect")
		v.toggle.SetIcon(theme.LogoutIcon())
		v.toggle.Importance = widget.DangerImportance
	}
	v.toggle.Refresh()

	switch {
	case st.State == StateUnknown:
		v.errorTitle.SetText("The cvpn service stopped")
		v.errorAdvice.SetText("The state of this connection is unknown: the service closes its tunnels when it stops. " +
			"cvpn reconnects to the service by itself when it is back.")
		v.errorBox.Show()
	case failed && st.State == clientapi.StateDisconnected:
		p := Explain(st.LastError, false)
		v.errorTitle.SetText(p.Title)
		v.errorAdvice.SetText(p.Advice)
		v.errorBox.Show()
	default:
		v.errorBox.Hide()
	}
	u.refreshProfileOptions(&v.managed)
	v.head.Refresh()
	if r, ok := v.detail.(*fyne.Container); ok {
		r.Refresh()
	}

	var remotes []string
	if i := u.profileIndex(u.selected); i >= 0 {
		remotes = u.profiles[i].Remotes
	}
	server := ServerText(remotes, c.remote, st.Server)
	if st.State != clientapi.StateConnected && !Busy(st.State) {
		server = ServerText(remotes, "", "")
	}
	vals := map[string]string{"Server": server}
	if st.State == clientapi.StateConnected {
		vals["Tunnel IPv4"] = st.TunnelIPv4
		vals["Tunnel IPv6"] = st.TunnelIPv6
		vals["Interface"] = st.Interface
		vals["Cipher"] = st.Cipher
		if !st.ConnectedSince.IsZero() {
			vals["Connected for"] = FormatDuration(u.now().Sub(st.ConnectedSince))
		}
		vals["Received"] = FormatBytes(st.BytesIn)
		vals["Sent"] = FormatBytes(st.BytesOut)
	}
	for _, f := range statFields {
		s := vals[f]
		if s == "" {
			s = "—"
		}
		v.values[f].SetText(s)
	}
}

// setServiceProblem shows or hides the "service not running" bar.
func (u *UI) setServiceProblem(err error) {
	v := u.main
	if err == nil {
		if v.serviceBar.Visible() {
			v.serviceBar.Hide()
			v.root.Refresh() // the header shrinks: lay the window out again
		}
		return
	}
	p := ExplainError(err)
	v.serviceTitle.SetText(p.Title)
	v.serviceText.SetText(p.Advice)
	if !v.serviceBar.Visible() {
		// Container.Show does not lay out its parents: without the
		// refresh the bar stays invisible until something else does.
		v.serviceBar.Show()
		v.root.Refresh()
	}
}

// profileRow is one line of the profile list.
type profileRow struct {
	widget.BaseWidget
	u      *UI
	name   string
	dot    *canvas.Circle
	title  *widget.Label
	sub    *widget.Label
	button *widget.Button
}

func newProfileRow(u *UI) *profileRow {
	r := &profileRow{u: u}
	r.dot = canvas.NewCircle(textColor(roleStateIdle))
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.sub = widget.NewLabel("")
	styleLabel(r.sub, roleRowSubtitle)
	r.sub.Truncation = fyne.TextTruncateEllipsis
	r.button = widget.NewButton("Connect", func() { u.Toggle(r.name) })
	r.ExtendBaseWidget(r)
	return r
}

func (r *profileRow) CreateRenderer() fyne.WidgetRenderer {
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(12, 12), r.dot))
	text := container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()*2), r.title, r.sub)
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, dot, container.NewCenter(r.button), text))
}

func (r *profileRow) set(name string) {
	r.name = name
	c := r.u.m.get(name)
	st := c.status
	failed := st.LastError != ""
	r.dot.FillColor = stateColor(st.State, failed)
	r.dot.Refresh()
	r.title.SetText(name)
	sub := StateLabel(st.State)
	if r.u.b.Managed(name) {
		prefix := "Managed · "
		if i := r.u.profileIndex(name); i >= 0 && r.u.profiles[i].HidesUserProfile {
			prefix = "Managed, replaces your profile of this name · "
		}
		sub = prefix + sub
	}
	switch {
	case st.State == clientapi.StateConnected && st.TunnelIPv4 != "":
		sub += " · " + st.TunnelIPv4
	case st.State == clientapi.StateDisconnected && failed:
		sub = Explain(st.LastError, false).Title
	}
	r.sub.SetText(sub)
	if Idle(st.State) {
		r.button.SetText("Connect")
		r.button.Importance = widget.MediumImportance
	} else {
		r.button.SetText("Disconnect")
		r.button.Importance = widget.DangerImportance
	}
	r.button.Refresh()
}
