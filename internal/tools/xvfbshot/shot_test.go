package xvfbshot

import (
	"image"
	"image/color"
	"testing"
)

func TestChangedAndCrop(t *testing.T) {
	base := image.NewRGBA(image.Rect(0, 0, 20, 10))
	img := image.NewRGBA(base.Rect)
	if r := Changed(base, img); !r.Empty() {
		t.Fatalf("identical images: changed %v", r)
	}
	img.SetRGBA(3, 2, color.RGBA{1, 0, 0, 0})
	img.SetRGBA(12, 7, color.RGBA{0, 0, 9, 255})
	img.SetRGBA(5, 4, color.RGBA{0, 7, 0, 255})
	want := image.Rect(3, 2, 13, 8)
	if r := Changed(base, img); r != want {
		t.Fatalf("changed %v, want %v", r, want)
	}
	if r := Changed(image.NewRGBA(image.Rect(0, 0, 5, 5)), img); !r.Empty() {
		t.Errorf("different sizes: changed %v, want empty", r)
	}
	c := Crop(img, want)
	if c.Rect != image.Rect(0, 0, 10, 6) {
		t.Fatalf("crop bounds %v", c.Rect)
	}
	for _, p := range []struct {
		x, y int
		c    color.RGBA
	}{{0, 0, color.RGBA{1, 0, 0, 0}}, {9, 5, color.RGBA{0, 0, 9, 255}}, {2, 2, color.RGBA{0, 7, 0, 255}}, {1, 1, color.RGBA{}}} {
		if got := c.RGBAAt(p.x, p.y); got != p.c {
			t.Errorf("crop (%d,%d) = %v, want %v", p.x, p.y, got, p.c)
		}
	}
	if c := Crop(img, image.Rect(15, 5, 40, 40)); c.Rect != image.Rect(0, 0, 5, 5) {
		t.Errorf("crop past the edge: bounds %v, want 5x5", c.Rect)
	}
}
