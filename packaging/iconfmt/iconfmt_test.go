package iconfmt

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"strings"
	"testing"
)

func square(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, n, n))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestICNSLayout(t *testing.T) {
	p512, p256 := square(t, 512), square(t, 256)
	got, err := ICNS(p512, p256)
	if err != nil {
		t.Fatal(err)
	}
	want := 8 + 8 + len(p256) + 8 + len(p512)
	if string(got[:4]) != "icns" || int(binary.BigEndian.Uint32(got[4:8])) != want || len(got) != want {
		t.Fatalf("header %q len %d, file %d bytes; want icns, %d", got[:4], binary.BigEndian.Uint32(got[4:8]), len(got), want)
	}
	// Ascending sizes: ic08 (256) first, then ic09 (512).
	if string(got[8:12]) != "ic08" || int(binary.BigEndian.Uint32(got[12:16])) != 8+len(p256) {
		t.Fatalf("first element %q %d", got[8:12], binary.BigEndian.Uint32(got[12:16]))
	}
	if !bytes.Equal(got[16:16+len(p256)], p256) {
		t.Fatal("first element does not hold the 256 PNG")
	}
	second := 16 + len(p256)
	if string(got[second:second+4]) != "ic09" || !bytes.Equal(got[second+8:], p512) {
		t.Fatalf("second element %q", got[second:second+4])
	}
}

func TestICNSErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   [][]byte
		want string
	}{
		{"empty", nil, "no images"},
		{"not png", [][]byte{[]byte("GIF89a")}, "image 0: not a PNG"},
		{"odd size", [][]byte{square(t, 100)}, "size 100 has no icns type"},
		{"duplicate", [][]byte{square(t, 16), square(t, 16)}, "image 1: a 16x16 image was already given"},
	} {
		_, err := ICNS(tc.in...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestICOLayout(t *testing.T) {
	p16, p256 := square(t, 16), square(t, 256)
	got, err := ICO(p16, p256)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(got[0:]) != 0 || le.Uint16(got[2:]) != 1 || le.Uint16(got[4:]) != 2 {
		t.Fatalf("header % x", got[:6])
	}
	e0, e1 := got[6:22], got[22:38]
	if e0[0] != 16 || e0[1] != 16 || le.Uint16(e0[6:]) != 32 || int(le.Uint32(e0[8:])) != len(p16) || le.Uint32(e0[12:]) != 38 {
		t.Fatalf("entry 0 % x", e0)
	}
	if e1[0] != 0 || e1[1] != 0 || int(le.Uint32(e1[8:])) != len(p256) || int(le.Uint32(e1[12:])) != 38+len(p16) {
		t.Fatalf("entry 1 % x (256 must be stored as 0)", e1)
	}
	if !bytes.Equal(got[38:38+len(p16)], p16) || !bytes.Equal(got[38+len(p16):], p256) {
		t.Fatal("image data not where the directory says")
	}
}

func TestICOErrors(t *testing.T) {
	if _, err := ICO(); err == nil || !strings.Contains(err.Error(), "no images") {
		t.Errorf("empty: %v", err)
	}
	if _, err := ICO(square(t, 512)); err == nil || !strings.Contains(err.Error(), "512x512 is larger than 256x256") {
		t.Errorf("too large: %v", err)
	}
	if _, err := ICO(square(t, 16), []byte("x")); err == nil || !strings.Contains(err.Error(), "image 1: not a PNG") {
		t.Errorf("bad png: %v", err)
	}
}
