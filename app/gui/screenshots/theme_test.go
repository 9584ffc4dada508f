//go:build screenshots

package screenshots

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// fixedVariant is the default theme in one variant.
type fixedVariant struct{ v fyne.ThemeVariant }

func (f fixedVariant) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return theme.DefaultTheme().Color(n, f.v)
}
func (f fixedVariant) Font(s fyne.TextStyle) fyne.Resource     { return theme.DefaultTheme().Font(s) }
func (f fixedVariant) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }
func (f fixedVariant) Size(n fyne.ThemeSizeName) float32       { return theme.DefaultTheme().Size(n) }
