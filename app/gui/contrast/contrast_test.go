package contrast

import (
	"image/color"
	"math"
	"testing"
)

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// Known answers from the WCAG definition and common checker tools.
func TestRatioKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		a, b uint32
		want float64
	}{
		{0x000000, 0xffffff, 21},
		{0xffffff, 0xffffff, 1},
		{0x777777, 0xffffff, 4.48},
		{0x767676, 0xffffff, 4.54},
		{0x595959, 0xffffff, 7.00},
		{0x39393a, 0x171718, 1.55}, // fyne's dark "disabled" text on its dark background
	} {
		if got := Ratio(rgb(c.a), rgb(c.b)); math.Abs(got-c.want) > 0.01 {
			t.Errorf("Ratio(#%06x, #%06x) = %.3f, want %.2f", c.a, c.b, got, c.want)
		}
	}
}

func TestOverBlendsTranslucentColours(t *testing.T) {
	// fyne's light selection: #006cff at alpha 0x40 over white.
	got := Over(color.NRGBA{R: 0x00, G: 0x6c, B: 0xff, A: 0x40}, rgb(0xffffff))
	if want := rgb(0xbfdaff); got != want {
		t.Errorf("Over = %s, want %s", Hex(got), Hex(want))
	}
	if got := Flatten(color.NRGBA{R: 1, G: 2, B: 3, A: 0}); got != rgb(0x010203) {
		t.Errorf("Flatten makes the bottom opaque: got %s", Hex(got))
	}
	// Translucent text shows less contrast than the same colour opaque.
	half := color.NRGBA{A: 0x80}
	if a, b := TextRatio(half, rgb(0xffffff)), Ratio(rgb(0), rgb(0xffffff)); a >= b/2 {
		t.Errorf("half-transparent black on white: %.2f, opaque %.2f", a, b)
	}
}

func TestLargeText(t *testing.T) {
	for _, c := range []struct {
		px   float32
		bold bool
		want bool
	}{
		{14, false, false}, {14, true, false}, {18, true, false}, {18.67, true, true},
		{23.9, false, false}, {24, false, true}, {11, true, false},
	} {
		if got := Large(c.px, c.bold); got != c.want {
			t.Errorf("Large(%v, bold %v) = %v, want %v", c.px, c.bold, got, c.want)
		}
	}
}
