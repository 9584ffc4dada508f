package iconfmt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/png"
	"sort"
)

// icnsTypes maps a square PNG size to its .icns element type. Only the
// PNG-carrying types are listed.
var icnsTypes = map[int]string{
	16:   "icp4",
	32:   "icp5",
	64:   "icp6",
	128:  "ic07",
	256:  "ic08",
	512:  "ic09",
	1024: "ic10",
}

// pngSize decodes the header of a PNG and returns its side length; it
// fails for anything that is not a square PNG.
func pngSize(p []byte) (int, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(p))
	if err != nil {
		return 0, fmt.Errorf("not a PNG: %w", err)
	}
	if cfg.Width != cfg.Height {
		return 0, fmt.Errorf("PNG is %dx%d, want a square", cfg.Width, cfg.Height)
	}
	return cfg.Width, nil
}

// ICNS builds an Apple icon file from square PNGs of the sizes 16, 32, 64,
// 128, 256, 512 or 1024; elements are written in ascending size.
func ICNS(pngs ...[]byte) ([]byte, error) {
	type elem struct {
		size int
		typ  string
		data []byte
	}
	var elems []elem
	seen := map[int]bool{}
	for i, p := range pngs {
		n, err := pngSize(p)
		if err != nil {
			return nil, fmt.Errorf("icns: image %d: %w", i, err)
		}
		typ, ok := icnsTypes[n]
		if !ok {
			return nil, fmt.Errorf("icns: image %d: size %d has no icns type (use 16, 32, 64, 128, 256, 512 or 1024)", i, n)
		}
		if seen[n] {
			return nil, fmt.Errorf("icns: image %d: a %dx%d image was already given", i, n, n)
		}
		seen[n] = true
		elems = append(elems, elem{n, typ, p})
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("icns: no images")
	}
	sort.Slice(elems, func(a, b int) bool { return elems[a].size < elems[b].size })
	total := 8
	for _, e := range elems {
		total += 8 + len(e.data)
	}
	out := make([]byte, 0, total)
	out = append(out, "icns"...)
	out = binary.BigEndian.AppendUint32(out, uint32(total))
	for _, e := range elems {
		out = append(out, e.typ...)
		out = binary.BigEndian.AppendUint32(out, uint32(8+len(e.data)))
		out = append(out, e.data...)
	}
	return out, nil
}

// ICO builds a Windows icon file from square PNGs of at most 256x256
// pixels, in the order given (Windows picks the best size itself).
func ICO(pngs ...[]byte) ([]byte, error) {
	if len(pngs) == 0 {
		return nil, fmt.Errorf("ico: no images")
	}
	const header, entry = 6, 16
	out := make([]byte, 0, header+entry*len(pngs))
	out = binary.LittleEndian.AppendUint16(out, 0) // reserved
	out = binary.LittleEndian.AppendUint16(out, 1) // type: icon
	out = binary.LittleEndian.AppendUint16(out, uint16(len(pngs)))
	offset := header + entry*len(pngs)
	for i, p := range pngs {
		n, err := pngSize(p)
		if err != nil {
			return nil, fmt.Errorf("ico: image %d: %w", i, err)
		}
		if n > 256 {
			return nil, fmt.Errorf("ico: image %d: %dx%d is larger than 256x256", i, n, n)
		}
		side := byte(n) // 256 is stored as 0
		out = append(out, side, side, 0, 0)
		out = binary.LittleEndian.AppendUint16(out, 1)  // colour planes
		out = binary.LittleEndian.AppendUint16(out, 32) // bits per pixel
		out = binary.LittleEndian.AppendUint32(out, uint32(len(p)))
		out = binary.LittleEndian.AppendUint32(out, uint32(offset))
		offset += len(p)
	}
	for _, p := range pngs {
		out = append(out, p...)
	}
	return out, nil
}
