package xvfbshot

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"strings"
	"testing"
)

// buildXWD writes an XWD file of a 2x2 image: red, green / blue, white,
// with a window name, two colour map entries and padded lines.
func buildXWD(t *testing.T, bpp, byteOrder uint32, mutate func(h *xwdHeader)) []byte {
	t.Helper()
	name := "cvpn\x00\x00\x00\x00"
	bytesPerPixel := bpp / 8
	h := xwdHeader{
		HeaderSize: xwdHeaderLen + uint32(len(name)), FileVersion: 7, PixmapFormat: zPixmap, PixmapDepth: 24,
		PixmapWidth: 2, PixmapHeight: 2, ByteOrder: byteOrder, BitmapUnit: 32, BitsPerPixel: bpp,
		BytesPerLine: 2*bytesPerPixel + 4, VisualClass: trueColor,
		RedMask: 0xff0000, GreenMask: 0x00ff00, BlueMask: 0x0000ff, BitsPerRGB: 8, ColormapEntries: 256, NColors: 2,
		WindowWidth: 2, WindowHeight: 2,
	}
	if mutate != nil {
		mutate(&h)
	}
	var b bytes.Buffer
	if err := binary.Write(&b, binary.BigEndian, &h); err != nil {
		t.Fatal(err)
	}
	b.WriteString(name)
	b.Write(bytes.Repeat([]byte{0xaa}, 2*xwdColorLen))
	var order binary.ByteOrder = binary.BigEndian
	if byteOrder == lsbFirst {
		order = binary.LittleEndian
	}
	pixels := [][]uint32{{0xff0000, 0x00ff00}, {0x0000ff, 0xffffff}}
	for _, row := range pixels {
		line := make([]byte, h.BytesPerLine)
		for x, v := range row {
			var px [4]byte
			order.PutUint32(px[:], v)
			p := px[:]
			if bpp == 24 {
				if order == binary.LittleEndian {
					p = px[:3]
				} else {
					p = px[1:]
				}
			}
			copy(line[uint32(x)*bytesPerPixel:], p)
		}
		b.Write(line)
	}
	return b.Bytes()
}

func TestDecodeXWD(t *testing.T) {
	want := [][]color.RGBA{
		{{0xff, 0, 0, 0xff}, {0, 0xff, 0, 0xff}},
		{{0, 0, 0xff, 0xff}, {0xff, 0xff, 0xff, 0xff}},
	}
	for _, tc := range []struct {
		name           string
		bpp, byteOrder uint32
	}{
		{"32bpp-lsb", 32, 0}, {"32bpp-msb", 32, 1}, {"24bpp-lsb", 24, 0}, {"24bpp-msb", 24, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := DecodeXWD(bytes.NewReader(buildXWD(t, tc.bpp, tc.byteOrder, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if img.Rect != image.Rect(0, 0, 2, 2) {
				t.Fatalf("bounds %v, want 2x2", img.Rect)
			}
			for y, row := range want {
				for x, c := range row {
					if got := img.RGBAAt(x, y); got != c {
						t.Errorf("pixel (%d,%d) = %v, want %v", x, y, got, c)
					}
				}
			}
		})
	}
}

func TestDecodeXWDScalesNarrowMasks(t *testing.T) {
	// 5-6-5 style masks in a 32-bit pixel: full-scale values become 255.
	data := buildXWD(t, 32, 0, func(h *xwdHeader) {
		h.RedMask, h.GreenMask, h.BlueMask = 0xf800, 0x07e0, 0x001f
	})
	img, err := DecodeXWD(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Pixel (1,1) is 0xffffff: every mask fully set.
	if got := img.RGBAAt(1, 1); got != (color.RGBA{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("white = %v", got)
	}
	// Pixel (0,0) is 0xff0000: none of the low 16 bits set.
	if got := img.RGBAAt(0, 0); got != (color.RGBA{0, 0, 0, 0xff}) {
		t.Errorf("black = %v", got)
	}
}

func TestDecodeXWDErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(h *xwdHeader)
		want   string
	}{
		{"version", func(h *xwdHeader) { h.FileVersion = 6 }, "file_version 6"},
		{"format", func(h *xwdHeader) { h.PixmapFormat = 1 }, "pixmap_format 1"},
		{"visual", func(h *xwdHeader) { h.VisualClass = 3 }, "visual_class 3"},
		{"bpp", func(h *xwdHeader) { h.BitsPerPixel = 16 }, "bits_per_pixel 16"},
		{"line", func(h *xwdHeader) { h.BytesPerLine = 7 }, "bytes_per_line 7"},
		{"size", func(h *xwdHeader) { h.PixmapWidth = 0 }, "pixmap size 0x2"},
		{"header", func(h *xwdHeader) { h.HeaderSize = 50 }, "header_size 50"},
		{"masks", func(h *xwdHeader) { h.GreenMask = 0 }, "colour masks"},
		{"order", func(h *xwdHeader) { h.ByteOrder = 2 }, "byte_order 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeXWD(bytes.NewReader(buildXWD(t, 32, 0, tc.mutate)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	data := buildXWD(t, 32, 0, nil)
	for _, cut := range []int{10, 104, 120, len(data) - 3} {
		if _, err := DecodeXWD(bytes.NewReader(data[:cut])); err == nil {
			t.Errorf("truncated at %d of %d bytes: no error", cut, len(data))
		}
	}
	if _, err := DecodeXWD(bytes.NewReader(data[:len(data)-3])); err == nil || !strings.Contains(err.Error(), "pixmap line 1") {
		t.Errorf("truncated pixmap: err = %v, want it to name line 1", err)
	}
}
