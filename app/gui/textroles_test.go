package gui

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/gui/contrast"
)

var variants = []struct {
	name string
	v    fyne.ThemeVariant
}{{"light", theme.VariantLight}, {"dark", theme.VariantDark}}

// contrastRow is one text role on one backdrop in one theme variant.
type contrastRow struct {
	role, backdrop, variant string
	fg, bg                  color.NRGBA
	ratio, min              float64
}

func contrastRows(th func(fyne.ThemeVariant) fyne.Theme) []contrastRow {
	var rows []contrastRow
	for _, vr := range variants {
		t := th(vr.v)
		for _, r := range textRoles() {
			min := contrast.Min(t.Size(r.size), r.bold)
			for _, b := range r.on {
				var ls []color.Color
				for _, l := range b.layers {
					ls = append(ls, l.color(t, vr.v))
				}
				bg := contrast.Flatten(ls...)
				fg := contrast.Over(t.Color(r.fg, vr.v), bg)
				rows = append(rows, contrastRow{role: r.name, backdrop: b.name, variant: vr.name,
					fg: fg, bg: bg, ratio: contrast.Ratio(fg, bg), min: min})
			}
		}
	}
	return rows
}

// TestTextContrast checks every text role on every backdrop it is drawn
// on, in the light and the dark theme, against WCAG 2.1 AA: 4.5:1, or 3:1
// for large text (18pt, or 14pt bold).
func TestTextContrast(t *testing.T) {
	rows := contrastRows(ThemeVariant)
	if len(rows) < 2*int(numRoles) {
		t.Fatalf("only %d role/backdrop pairs for %d roles in 2 variants", len(rows), numRoles)
	}
	for _, r := range rows {
		line := fmt.Sprintf("%s: %s on %s: %s on %s = %.2f:1 (AA asks %.1f:1)",
			r.variant, r.role, r.backdrop, contrast.Hex(r.fg), contrast.Hex(r.bg), r.ratio, r.min)
		if r.ratio < r.min {
			t.Error(line)
		} else if testing.Verbose() {
			t.Log(line)
		}
	}
}

// TestRolesComplete checks that every role has a name, a colour, a size
// and at least one backdrop, so a role added without its entry fails.
func TestRolesComplete(t *testing.T) {
	for i, r := range textRoles() {
		if r.name == "" || r.fg == "" || r.size == "" || len(r.on) == 0 {
			t.Errorf("role %d has no complete entry in textRoles: %+v", i, r)
		}
		for _, b := range r.on {
			if len(b.layers) == 0 {
				t.Errorf("role %q: backdrop %q has no layers", r.name, b.name)
			}
		}
	}
}

// probeTheme is the cvpn theme with one colour replaced by magenta.
type probeTheme struct {
	fyne.Theme
	name fyne.ThemeColorName
}

var magenta = color.NRGBA{R: 0xff, B: 0xff, A: 0xff}

func (p probeTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == p.name {
		return magenta
	}
	return p.Theme.Color(n, v)
}

// TestLabelsDrawRoleColour renders a label styled for each label role with
// the role's colour replaced by magenta and checks that fyne paints the
// text in it: the table's colour is the one a user sees.
func TestLabelsDrawRoleColour(t *testing.T) {
	a := test.NewTempApp(t)
	for _, id := range []role{roleHeaderSummary, roleListHeading, roleListHint, roleRowSubtitle, roleStatKey,
		roleErrorTitle, roleProfileName, roleStatValue} {
		r := textRoles()[id]
		a.Settings().SetTheme(probeTheme{ThemeVariant(theme.VariantLight), r.fg})
		l := styleLabel(widget.NewLabel("Connected · 10.100.0.2"), id)
		w := test.NewTempWindow(t, l)
		w.Resize(fyne.NewSize(300, 80))
		if d := nearest(w.Canvas().Capture(), magenta); d > 40 {
			t.Errorf("%s: label drawn without its colour %s (nearest pixel is %d away)", r.name, r.fg, d)
		}
	}
}

// nearest is the smallest channel distance from c to any pixel of img.
func nearest(img image.Image, c color.NRGBA) int {
	best := math.MaxInt
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			d := max(absDiff(p.R, c.R), absDiff(p.G, c.G), absDiff(p.B, c.B))
			best = min(best, d)
		}
	}
	return best
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
