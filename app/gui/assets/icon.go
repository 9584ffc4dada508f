package assets

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"

	"fyne.io/fyne/v2"
)

// Tone selects the colour of the shield.
type Tone int

// Tones: the brand colour for the app icon, and one per connection state
// for the tray.
const (
	ToneBrand Tone = iota
	ToneConnected
	ToneBusy
	ToneIdle
	ToneError
)

// String names the tone (used in resource file names).
func (t Tone) String() string {
	switch t {
	case ToneConnected:
		return "connected"
	case ToneBusy:
		return "busy"
	case ToneIdle:
		return "idle"
	case ToneError:
		return "error"
	default:
		return "brand"
	}
}

// palette returns the darker (right half) and lighter (left half) shades.
func (t Tone) palette() (dark, light color.NRGBA) {
	switch t {
	case ToneConnected:
		return rgb(0x15803d), rgb(0x22c55e)
	case ToneBusy:
		return rgb(0xb45309), rgb(0xf59e0b)
	case ToneIdle:
		return rgb(0x475569), rgb(0x94a3b8)
	case ToneError:
		return rgb(0xb91c1c), rgb(0xef4444)
	default:
		return rgb(0x1d4ed8), rgb(0x3b82f6)
	}
}

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

func hex(c color.NRGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

type pt struct{ x, y float64 }

// The icon lives in a 64x64 box.
const box = 64.0

// shield returns the outline of the shield: a flat top with a raised
// centre, straight sides and curved lower edges meeting in a point.
func shield() []pt {
	var p []pt
	p = append(p, pt{32, 4})
	p = append(p, quad(pt{32, 4}, pt{42, 10}, pt{55, 11}, 8)...)
	p = append(p, pt{55, 30})
	p = append(p, quad(pt{55, 30}, pt{54, 50}, pt{32, 61}, 12)...)
	p = append(p, quad(pt{32, 61}, pt{10, 50}, pt{9, 30}, 12)...)
	p = append(p, pt{9, 11})
	p = append(p, quad(pt{9, 11}, pt{22, 10}, pt{32, 4}, 8)...)
	return p
}

// leftHalf is the part of the shield left of the centre line, drawn in
// the lighter shade.
func leftHalf() []pt {
	var p []pt
	p = append(p, pt{32, 4}, pt{32, 61})
	p = append(p, quad(pt{32, 61}, pt{10, 50}, pt{9, 30}, 12)...)
	p = append(p, pt{9, 11})
	p = append(p, quad(pt{9, 11}, pt{22, 10}, pt{32, 4}, 8)...)
	return p
}

// keyhole: a circle and a tapering slot below it.
const (
	holeX, holeY, holeR = 32.0, 27.0, 7.0
)

func slot() []pt { return []pt{{29, 30}, {35, 30}, {37.5, 46}, {26.5, 46}} }

func quad(a, c, b pt, n int) []pt {
	out := make([]pt, 0, n)
	for i := 1; i <= n; i++ {
		t := float64(i) / float64(n)
		u := 1 - t
		out = append(out, pt{u*u*a.x + 2*u*t*c.x + t*t*b.x, u*u*a.y + 2*u*t*c.y + t*t*b.y})
	}
	return out
}

func pathData(p []pt) string {
	var b strings.Builder
	for i, q := range p {
		if i == 0 {
			b.WriteString("M")
		} else {
			b.WriteString(" L")
		}
		fmt.Fprintf(&b, "%.2f %.2f", q.x, q.y)
	}
	b.WriteString(" Z")
	return b.String()
}

// SVG returns the icon as an SVG document in the given tone.
func SVG(t Tone) []byte {
	dark, light := t.palette()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">`+"\n")
	fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`+"\n", pathData(shield()), hex(dark))
	fmt.Fprintf(&b, `<path d="%s" fill="%s"/>`+"\n", pathData(leftHalf()), hex(light))
	fmt.Fprintf(&b, `<circle cx="%.2f" cy="%.2f" r="%.2f" fill="#ffffff"/>`+"\n", holeX, holeY, holeR)
	fmt.Fprintf(&b, `<path d="%s" fill="#ffffff"/>`+"\n", pathData(slot()))
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// Image rasterises the icon at size x size pixels (4x4 supersampling) on
// a transparent background.
func Image(t Tone, size int) *image.NRGBA {
	dark, light := t.palette()
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	sh, lh, sl := shield(), leftHalf(), slot()
	const ss = 4
	scale := box / float64(size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var r, g, bl, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					p := pt{(float64(x) + (float64(sx)+0.5)/ss) * scale, (float64(y) + (float64(sy)+0.5)/ss) * scale}
					var c color.NRGBA
					switch {
					case !inside(sh, p):
						continue
					case math.Hypot(p.x-holeX, p.y-holeY) <= holeR || inside(sl, p):
						c = white
					case inside(lh, p):
						c = light
					default:
						c = dark
					}
					r += float64(c.R)
					g += float64(c.G)
					bl += float64(c.B)
					a++
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(r / a), G: uint8(g / a), B: uint8(bl / a), A: uint8(a / (ss * ss) * 255)})
		}
	}
	return img
}

// inside is the even-odd point-in-polygon test.
func inside(poly []pt, p pt) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a.y > p.y) != (b.y > p.y) && p.x < (b.x-a.x)*(p.y-a.y)/(b.y-a.y)+a.x {
			in = !in
		}
	}
	return in
}

// PNG encodes Image(t, size).
func PNG(t Tone, size int) ([]byte, error) {
	if size < 8 || size > 4096 {
		return nil, fmt.Errorf("icon size %d out of range 8..4096", size)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, Image(t, size)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Icon returns the app icon (brand tone) as a fyne resource.
func Icon() fyne.Resource { return Resource(ToneBrand) }

// Resource returns the icon in a tone as an SVG fyne resource.
func Resource(t Tone) fyne.Resource {
	return fyne.NewStaticResource("cvpn-"+t.String()+".svg", SVG(t))
}
