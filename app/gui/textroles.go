package gui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// role names one kind of text the UI draws. The widgets take their colour,
// size and weight from textRoles, and the contrast test checks every role
// on every backdrop in both theme variants, so the two cannot drift.
type role int

const (
	roleHeaderTitle role = iota
	roleHeaderSummary
	roleServiceTitle
	roleServiceText
	roleListHeading
	roleListHint
	roleRowTitle
	roleRowSubtitle
	roleProfileName
	roleStateIdle
	roleStateBusy
	roleStateConnected
	roleStateFailed
	roleErrorTitle
	roleErrorAdvice
	roleStatKey
	roleStatValue
	roleEmptyTitle
	roleEmptyText
	roleButton
	rolePrimaryButton
	roleDangerButton
	roleLowButton
	roleDisabledButton
	roleDialogTitle
	roleDialogText
	roleDialogError
	roleEntryText
	roleEntryPlaceholder
	roleLogText
	numRoles
)

// layer is one coat of paint under text: a theme colour, with the alpha
// the UI paints it at (0 keeps the theme colour's own alpha).
type layer struct {
	name  fyne.ThemeColorName
	alpha uint8
}

// color is the layer's colour in theme th and variant v.
func (l layer) color(th fyne.Theme, v fyne.ThemeVariant) color.Color {
	c := th.Color(l.name, v)
	if l.alpha != 0 {
		return withAlpha(c, l.alpha)
	}
	return c
}

// current is the layer's colour in the running app's theme.
func (l layer) current() color.Color {
	return l.color(theme.Current(), fyne.CurrentApp().Settings().ThemeVariant())
}

// The tinted panels of the main window.
func warningTint() layer { return layer{theme.ColorNameWarning, 0x40} }
func errorTint() layer   { return layer{theme.ColorNameError, 0x26} }

// backdrop is one background a text can be seen on: layers bottom first,
// translucent ones blended over those under them.
type backdrop struct {
	name   string
	layers []layer
}

func over(b backdrop, name string, ls ...layer) backdrop {
	return backdrop{name: b.name + " + " + name, layers: append(append([]layer(nil), b.layers...), ls...)}
}

func window() backdrop { return backdrop{"window", []layer{{name: theme.ColorNameBackground}}} }

// dialogs returns the backdrops of a dialog: fyne paints it in the overlay
// colour at alpha 230 over the modal shadow, so a little of the window
// shows through; the extremes are window background and text under it.
func dialogs() []backdrop {
	under := func(n fyne.ThemeColorName, name string) backdrop {
		return backdrop{"dialog over " + name, []layer{{name: n}, {name: theme.ColorNameShadow},
			{name: theme.ColorNameOverlayBackground, alpha: 230}}}
	}
	return []backdrop{under(theme.ColorNameBackground, "window"), under(theme.ColorNameForeground, "text")}
}

// rows are the backdrops of a profile list row.
func rows() []backdrop {
	w := window()
	return []backdrop{w, over(w, "hovered row", layer{name: theme.ColorNameHover}),
		over(w, "selected row", layer{name: theme.ColorNameSelection})}
}

// buttons are the backdrops of a button painted in fill, on the window,
// on a selected list row and in a dialog, idle, hovered and focused.
func buttons(fill fyne.ThemeColorName) []backdrop {
	var out []backdrop
	bases := append([]backdrop{window(), over(window(), "selected row", layer{name: theme.ColorNameSelection})}, dialogs()...)
	for _, b := range bases {
		f := over(b, string(fill), layer{name: fill})
		out = append(out, f, over(f, "hover", layer{name: theme.ColorNameHover}), over(f, "focus", layer{name: theme.ColorNameFocus}))
	}
	return out
}

// textRole is a text's colour, size and weight and where it is drawn.
type textRole struct {
	name string
	fg   fyne.ThemeColorName
	size fyne.ThemeSizeName
	bold bool
	on   []backdrop
	// fyne picks the colour itself (buttons, dialogs, entries): the
	// entry documents its choice; the theme's palette is what we control.
	byFyne bool
}

// textRoles is every text of the UI. fyne draws a label of LowImportance
// in ColorNameDisabled: that is the secondary text colour.
func textRoles() [numRoles]textRole {
	const (
		fg        = theme.ColorNameForeground
		secondary = theme.ColorNameDisabled
		text      = theme.SizeNameText
		caption   = theme.SizeNameCaptionText
		subhead   = theme.SizeNameSubHeadingText
		heading   = theme.SizeNameHeadingText
	)
	w := []backdrop{window()}
	selectedText := over(window(), "selected text", layer{name: theme.ColorNameSelection})
	service := []backdrop{over(window(), "warning tint", warningTint())}
	problem := []backdrop{over(window(), "error tint", errorTint())}
	input := func() []backdrop {
		var out []backdrop
		for _, d := range dialogs() {
			out = append(out, over(d, "input", layer{name: theme.ColorNameInputBackground}))
		}
		return out
	}
	return [numRoles]textRole{
		roleHeaderTitle:      {name: "header title", fg: fg, size: subhead, bold: true, on: w},
		roleHeaderSummary:    {name: "header status", fg: secondary, size: text, on: w},
		roleServiceTitle:     {name: "service bar title", fg: fg, size: text, bold: true, on: service},
		roleServiceText:      {name: "service bar text", fg: fg, size: text, on: service},
		roleListHeading:      {name: "PROFILES heading", fg: secondary, size: text, bold: true, on: w},
		roleListHint:         {name: "drop hint", fg: secondary, size: caption, on: w},
		roleRowTitle:         {name: "profile row name", fg: fg, size: text, bold: true, on: rows()},
		roleRowSubtitle:      {name: "profile row subtitle", fg: secondary, size: caption, on: rows()},
		roleProfileName:      {name: "profile name", fg: fg, size: heading, bold: true, on: w},
		roleStateIdle:        {name: "state: disconnected", fg: secondary, size: subhead, bold: true, on: w},
		roleStateBusy:        {name: "state: connecting", fg: theme.ColorNameWarning, size: subhead, bold: true, on: w},
		roleStateConnected:   {name: "state: connected", fg: theme.ColorNameSuccess, size: subhead, bold: true, on: w},
		roleStateFailed:      {name: "state: failed", fg: theme.ColorNameError, size: subhead, bold: true, on: w},
		roleErrorTitle:       {name: "error box title", fg: theme.ColorNameError, size: text, bold: true, on: problem},
		roleErrorAdvice:      {name: "error box advice", fg: fg, size: text, on: problem},
		roleStatKey:          {name: "detail field name", fg: secondary, size: text, on: w},
		roleStatValue:        {name: "detail field value", fg: fg, size: text, on: []backdrop{window(), selectedText}},
		roleEmptyTitle:       {name: "no-profiles title", fg: fg, size: heading, bold: true, on: w},
		roleEmptyText:        {name: "no-profiles text", fg: fg, size: text, on: w},
		roleButton:           {name: "button", fg: fg, size: text, on: buttons(theme.ColorNameButton), byFyne: true},
		rolePrimaryButton:    {name: "primary button", fg: theme.ColorNameForegroundOnPrimary, size: text, on: buttons(theme.ColorNamePrimary), byFyne: true},
		roleDangerButton:     {name: "danger button", fg: theme.ColorNameForegroundOnError, size: text, on: buttons(theme.ColorNameError), byFyne: true},
		roleLowButton:        {name: "flat button (accordion header)", fg: fg, size: text, on: append(dialogs(), over(dialogs()[0], "hover", layer{name: theme.ColorNameButton}, layer{name: theme.ColorNameHover})), byFyne: true},
		roleDisabledButton:   {name: "disabled button", fg: secondary, size: text, on: buttons(theme.ColorNameDisabledButton)[:1], byFyne: true},
		roleDialogTitle:      {name: "dialog title", fg: fg, size: text, bold: true, on: dialogs(), byFyne: true},
		roleDialogText:       {name: "dialog text, form label, check box", fg: fg, size: text, on: append(dialogs(), over(dialogs()[0], "selected text", layer{name: theme.ColorNameSelection})), byFyne: true},
		roleDialogError:      {name: "dialog error (sign-in reason, form validation)", fg: theme.ColorNameError, size: caption, on: dialogs()},
		roleEntryText:        {name: "entry text", fg: fg, size: text, on: append(input(), over(input()[0], "selected text", layer{name: theme.ColorNameSelection})), byFyne: true},
		roleEntryPlaceholder: {name: "entry placeholder", fg: theme.ColorNamePlaceHolder, size: text, on: input(), byFyne: true},
		roleLogText:          {name: "log window text", fg: fg, size: text, on: []backdrop{window(), selectedText}},
	}
}

// textColor is the colour of role r in the running app's theme.
func textColor(r role) color.Color { return theme.Color(textRoles()[r].fg) }

// importanceFor is the label importance fyne draws in colour name n.
func importanceFor(n fyne.ThemeColorName) widget.Importance {
	switch n {
	case theme.ColorNameDisabled:
		return widget.LowImportance
	case theme.ColorNamePrimary:
		return widget.HighImportance
	case theme.ColorNameError:
		return widget.DangerImportance
	case theme.ColorNameWarning:
		return widget.WarningImportance
	case theme.ColorNameSuccess:
		return widget.SuccessImportance
	}
	return widget.MediumImportance
}

// styleLabel gives label l the colour, size and weight of role r.
func styleLabel(l *widget.Label, r role) *widget.Label {
	tr := textRoles()[r]
	l.Importance = importanceFor(tr.fg)
	l.SizeName = tr.size
	l.TextStyle.Bold = tr.bold
	return l
}

// styleText gives canvas text t the colour, size and weight of role r.
func styleText(t *canvas.Text, r role) {
	tr := textRoles()[r]
	t.Color = theme.Color(tr.fg)
	t.TextSize = theme.Size(tr.size)
	t.TextStyle.Bold = tr.bold
}
