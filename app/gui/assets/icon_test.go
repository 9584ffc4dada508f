package assets

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"testing"
)

func TestSVGIsWellFormed(t *testing.T) {
	for _, tone := range []Tone{ToneBrand, ToneConnected, ToneBusy, ToneIdle, ToneError} {
		d := xml.NewDecoder(bytes.NewReader(SVG(tone)))
		elems := 0
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			if _, ok := tok.(xml.StartElement); ok {
				elems++
			}
		}
		if elems != 5 {
			t.Errorf("%v: %d elements, want svg + 4 shapes", tone, elems)
		}
	}
}

func TestPNGPixels(t *testing.T) {
	data, err := PNG(ToneConnected, 64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Fatalf("size %v", b)
	}
	// Corners are transparent, the keyhole is white, the right half is
	// the dark shade.
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Errorf("corner alpha %d", a)
	}
	if r, g, b, _ := img.At(32, 27).RGBA(); r>>8 != 0xff || g>>8 != 0xff || b>>8 != 0xff {
		t.Errorf("keyhole %x %x %x", r>>8, g>>8, b>>8)
	}
	if r, g, b, _ := img.At(48, 20).RGBA(); r>>8 != 0x15 || g>>8 != 0x80 || b>>8 != 0x3d {
		t.Errorf("right half %x %x %x", r>>8, g>>8, b>>8)
	}
	if _, err := PNG(ToneBrand, 2); err == nil {
		t.Error("size 2 accepted")
	}
}
