package contrast

import (
	"fmt"
	"image/color"
	"math"
)

// Minimum contrast ratios of WCAG 2.1 success criterion 1.4.3 (level AA).
const (
	MinNormal = 4.5
	MinLarge  = 3.0
)

// Over composites c over an opaque background with the "source over"
// operator and returns the opaque result. A translucent colour (a fyne
// selection or hover colour, a tinted panel) must be blended with what is
// under it before its luminance means anything.
func Over(c, under color.Color) color.NRGBA {
	f := color.NRGBAModel.Convert(c).(color.NRGBA)
	b := color.NRGBAModel.Convert(under).(color.NRGBA)
	a := float64(f.A) / 255
	mix := func(fc, bc uint8) uint8 {
		return uint8(math.Round(float64(fc)*a + float64(bc)*(1-a)))
	}
	return color.NRGBA{R: mix(f.R, b.R), G: mix(f.G, b.G), B: mix(f.B, b.B), A: 0xff}
}

// Flatten composites layers bottom first; the first layer is made opaque
// (its alpha is ignored), as the bottom of a window always is.
func Flatten(layers ...color.Color) color.NRGBA {
	if len(layers) == 0 {
		return color.NRGBA{A: 0xff}
	}
	out := color.NRGBAModel.Convert(layers[0]).(color.NRGBA)
	out.A = 0xff
	for _, l := range layers[1:] {
		out = Over(l, out)
	}
	return out
}

// Luminance is the WCAG 2.1 relative luminance of an opaque colour (alpha
// is ignored: flatten translucent colours first).
func Luminance(c color.Color) float64 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(n.R) + 0.7152*lin(n.G) + 0.0722*lin(n.B)
}

// Ratio is the WCAG 2.1 contrast ratio of two opaque colours, from 1 to 21.
func Ratio(a, b color.Color) float64 {
	la, lb := Luminance(a), Luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TextRatio is the contrast of text in colour fg drawn over background
// layers (bottom first): fg is composited over the flattened background
// too, so translucent text counts as what the eye sees.
func TextRatio(fg color.Color, background ...color.Color) float64 {
	bg := Flatten(background...)
	return Ratio(Over(fg, bg), bg)
}

// Large reports whether text of size px (device-independent pixels, the
// unit of fyne text sizes; 1pt is 4/3 px) counts as large text in WCAG
// 2.1: at least 18pt, or at least 14pt when bold.
func Large(px float32, bold bool) bool {
	pt := px * 3 / 4
	return pt >= 18 || (bold && pt >= 14)
}

// Min is the minimum ratio AA asks for text of size px.
func Min(px float32, bold bool) float64 {
	if Large(px, bold) {
		return MinLarge
	}
	return MinNormal
}

// Hex formats an opaque colour as #rrggbb, or #rrggbbaa when translucent.
func Hex(c color.Color) string {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	if n.A == 0xff {
		return fmt.Sprintf("#%02x%02x%02x", n.R, n.G, n.B)
	}
	return fmt.Sprintf("#%02x%02x%02x%02x", n.R, n.G, n.B, n.A)
}
