package gui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// appTheme is fyne's default theme with cvpn's palette: every text colour
// the UI draws reaches the WCAG 2.1 AA contrast ratio on every background
// it sits on, in the light and the dark variant (see textRoles and its
// test). Colours the palette does not name, fonts, icons and sizes are
// fyne's.
type appTheme struct {
	fixed   bool
	variant fyne.ThemeVariant
}

// Theme is cvpn's theme; it follows the desktop's light or dark setting.
// New installs it unless the app already uses one from ThemeVariant.
func Theme() fyne.Theme { return appTheme{} }

// ThemeVariant is cvpn's theme fixed to one variant (theme.VariantLight or
// theme.VariantDark) whatever the desktop's setting, for screenshots.
func ThemeVariant(v fyne.ThemeVariant) fyne.Theme { return appTheme{fixed: true, variant: v} }

func (t appTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.fixed {
		v = t.variant
	}
	if c, ok := paletteColor(n, v); ok {
		return c
	}
	return theme.DefaultTheme().Color(n, v)
}

func (appTheme) Font(s fyne.TextStyle) fyne.Resource     { return theme.DefaultTheme().Font(s) }
func (appTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }
func (appTheme) Size(n fyne.ThemeSizeName) float32       { return theme.DefaultTheme().Size(n) }

// paletteColor is cvpn's colour for n in variant v; false leaves n to
// fyne's default theme.
//
// fyne draws LowImportance labels (secondary text: hints, captions, field
// names) and disabled controls in ColorNameDisabled, so that colour is a
// readable secondary grey here, not fyne's near-background grey. The
// primary colour is fixed (not the user's fyne accent choice) so that
// white button text on it stays readable.
func paletteColor(n fyne.ThemeColorName, v fyne.ThemeVariant) (color.NRGBA, bool) {
	if v == theme.VariantLight {
		switch n {
		case theme.ColorNameForeground:
			return rgb(0x1f1f22), true
		case theme.ColorNameDisabled:
			return rgb(0x55555c), true
		case theme.ColorNamePlaceHolder:
			return rgb(0x66666c), true
		case theme.ColorNamePrimary, theme.ColorNameHyperlink:
			return rgb(0x1a5fd0), true
		case theme.ColorNameForegroundOnPrimary, theme.ColorNameForegroundOnError:
			return rgb(0xffffff), true
		case theme.ColorNameSelection:
			return rgba(0x1a5fd0, 0x33), true
		case theme.ColorNameFocus:
			return rgba(0x1a5fd0, 0x2a), true
		case theme.ColorNameSuccess:
			return rgb(0x1b7a33), true
		case theme.ColorNameWarning:
			return rgb(0x9a5400), true
		case theme.ColorNameError:
			return rgb(0xb3261e), true
		}
		return color.NRGBA{}, false
	}
	switch n {
	case theme.ColorNameDisabled:
		return rgb(0xa6a6ad), true
	case theme.ColorNamePrimary:
		return rgb(0x2160d8), true
	case theme.ColorNameHyperlink:
		return rgb(0x6ea2ff), true
	case theme.ColorNameForegroundOnPrimary:
		return rgb(0xffffff), true
	case theme.ColorNameSelection:
		return rgba(0x2f7bff, 0x40), true
	case theme.ColorNameFocus:
		return rgba(0x2f7bff, 0x2a), true
	case theme.ColorNameError:
		return rgb(0xff6b5e), true
	case theme.ColorNameForegroundOnError:
		return rgb(0x171718), true
	}
	return color.NRGBA{}, false
}

func rgb(v uint32) color.NRGBA { return rgba(v, 0xff) }

func rgba(v uint32, a uint8) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: a}
}
