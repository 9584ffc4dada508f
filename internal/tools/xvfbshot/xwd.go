package xvfbshot

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/bits"
)

// XWD header constants (X11 XWDFile.h).
const (
	xwdVersion    = 7
	xwdHeaderLen  = 100 // 25 CARD32 fields
	xwdColorLen   = 12  // pixel CARD32, red/green/blue CARD16, flags, pad
	zPixmap       = 2
	lsbFirst      = 0
	trueColor     = 4
	directColor   = 5
	maxDimension  = 1 << 15
	maxHeaderSize = 1 << 16
)

// xwdHeader holds the XWDFileHeader fields the decoder uses; the file stores
// all 25 fields as big-endian CARD32 values.
type xwdHeader struct {
	HeaderSize, FileVersion, PixmapFormat, PixmapDepth     uint32
	PixmapWidth, PixmapHeight, XOffset, ByteOrder          uint32
	BitmapUnit, BitmapBitOrder, BitmapPad, BitsPerPixel    uint32
	BytesPerLine, VisualClass, RedMask, GreenMask          uint32
	BlueMask, BitsPerRGB, ColormapEntries, NColors         uint32
	WindowWidth, WindowHeight, WindowX, WindowY, BorderWid uint32
}

// DecodeXWD reads an X Window Dump (as written by `xwd`) of a TrueColor or
// DirectColor visual in ZPixmap format with 24 or 32 bits per pixel, which
// is what xwd produces for Xvfb screens of depth 24.
func DecodeXWD(r io.Reader) (*image.RGBA, error) {
	br := bufio.NewReader(r)
	var h xwdHeader
	if err := binary.Read(br, binary.BigEndian, &h); err != nil {
		return nil, fmt.Errorf("xwd header: %w", err)
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	// Skip the window name and the colour map: TrueColor pixels carry
	// their colour in the masked bits.
	skip := int64(h.HeaderSize-xwdHeaderLen) + int64(h.NColors)*xwdColorLen
	if n, err := io.CopyN(io.Discard, br, skip); err != nil {
		return nil, fmt.Errorf("xwd window name and colour map: %d of %d bytes: %w", n, skip, err)
	}
	w, ht := int(h.PixmapWidth), int(h.PixmapHeight)
	img := image.NewRGBA(image.Rect(0, 0, w, ht))
	line := make([]byte, h.BytesPerLine)
	bpp := int(h.BitsPerPixel / 8)
	var order binary.ByteOrder = binary.BigEndian
	if h.ByteOrder == lsbFirst {
		order = binary.LittleEndian
	}
	red, green, blue := newChannel(h.RedMask), newChannel(h.GreenMask), newChannel(h.BlueMask)
	var buf [4]byte
	for y := 0; y < ht; y++ {
		if _, err := io.ReadFull(br, line); err != nil {
			return nil, fmt.Errorf("xwd pixmap line %d of %d: %w", y, ht, err)
		}
		for x := 0; x < w; x++ {
			px := line[x*bpp : x*bpp+bpp]
			var v uint32
			if bpp == 4 {
				v = order.Uint32(px)
			} else if order == binary.LittleEndian {
				copy(buf[:], px)
				buf[3] = 0
				v = binary.LittleEndian.Uint32(buf[:])
			} else {
				buf[0] = 0
				copy(buf[1:], px)
				v = binary.BigEndian.Uint32(buf[:])
			}
			img.SetRGBA(x, y, color.RGBA{R: red.value(v), G: green.value(v), B: blue.value(v), A: 0xff})
		}
	}
	return img, nil
}

func (h *xwdHeader) check() error {
	switch {
	case h.FileVersion != xwdVersion:
		return fmt.Errorf("xwd header: file_version %d, want %d", h.FileVersion, xwdVersion)
	case h.HeaderSize < xwdHeaderLen || h.HeaderSize > maxHeaderSize:
		return fmt.Errorf("xwd header: header_size %d out of range", h.HeaderSize)
	case h.PixmapFormat != zPixmap:
		return fmt.Errorf("xwd header: pixmap_format %d unsupported (want ZPixmap %d)", h.PixmapFormat, zPixmap)
	case h.VisualClass != trueColor && h.VisualClass != directColor:
		return fmt.Errorf("xwd header: visual_class %d unsupported (want TrueColor or DirectColor)", h.VisualClass)
	case h.BitsPerPixel != 24 && h.BitsPerPixel != 32:
		return fmt.Errorf("xwd header: bits_per_pixel %d unsupported (want 24 or 32)", h.BitsPerPixel)
	case h.PixmapWidth == 0 || h.PixmapHeight == 0 || h.PixmapWidth > maxDimension || h.PixmapHeight > maxDimension:
		return fmt.Errorf("xwd header: pixmap size %dx%d out of range", h.PixmapWidth, h.PixmapHeight)
	case uint64(h.BytesPerLine) < uint64(h.PixmapWidth)*uint64(h.BitsPerPixel/8):
		return fmt.Errorf("xwd header: bytes_per_line %d too small for %d pixels of %d bits",
			h.BytesPerLine, h.PixmapWidth, h.BitsPerPixel)
	case h.BytesPerLine > maxDimension*4:
		return fmt.Errorf("xwd header: bytes_per_line %d out of range", h.BytesPerLine)
	case h.RedMask == 0 || h.GreenMask == 0 || h.BlueMask == 0:
		return fmt.Errorf("xwd header: colour masks %#x/%#x/%#x must all be non-zero", h.RedMask, h.GreenMask, h.BlueMask)
	case h.ByteOrder > 1:
		return fmt.Errorf("xwd header: byte_order %d unsupported", h.ByteOrder)
	}
	return nil
}

// channel extracts one colour from a pixel value and scales it to 8 bits.
type channel struct {
	mask  uint32
	shift int
	max   uint64
}

func newChannel(mask uint32) channel {
	shift := bits.TrailingZeros32(mask)
	return channel{mask: mask, shift: shift, max: uint64(mask >> shift)}
}

func (c channel) value(v uint32) uint8 {
	return uint8(uint64((v&c.mask)>>c.shift) * 255 / c.max)
}
