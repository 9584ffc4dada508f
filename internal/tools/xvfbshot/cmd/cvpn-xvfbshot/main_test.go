//go:build cgo

package main

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestScreenshotsUnderXvfb builds the program, runs it and checks that it
// writes one PNG per state showing a 900x560 window that is not a single
// colour. Skipped without Xvfb and xwd, and with -short.
func TestScreenshotsUnderXvfb(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb and the GL app; skipped with -short")
	}
	for _, p := range []string{"Xvfb", "xwd"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (Debian packages xvfb, x11-apps): %v", p, err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cvpn-xvfbshot")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "shots")
	cmd := exec.CommandContext(ctx, bin, "-out", out, "-timeout", "2m")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cvpn-xvfbshot: %v\n%s", err, b)
	}
	files := []string{"real-01-disconnected.png", "real-02-connected.png", "real-03-banner.png", "real-04-error.png"}
	var prev image.Image
	for _, name := range files {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 560 {
			t.Errorf("%s: %dx%d, want the 900x560 window", name, b.Dx(), b.Dy())
		}
		if n := colours(img); n < 8 {
			t.Errorf("%s: only %d colours; the window was not painted", name, n)
		}
		if prev != nil && samePixels(prev, img) {
			t.Errorf("%s: identical to the previous state", name)
		}
		prev = img
	}
}

func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}
