package xvfbshot

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"time"
)

// Changed returns the smallest rectangle holding every pixel where img
// differs from base (the empty screen); it is empty when the two are equal
// or differ in size.
func Changed(base, img *image.RGBA) image.Rectangle {
	if base.Rect != img.Rect {
		return image.Rectangle{}
	}
	var r image.Rectangle
	b := img.Rect
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := img.PixOffset(b.Min.X, y)
		rowA := base.Pix[i : i+4*b.Dx()]
		rowB := img.Pix[i : i+4*b.Dx()]
		if bytes.Equal(rowA, rowB) {
			continue
		}
		first, last := -1, -1
		for x := 0; x < b.Dx(); x++ {
			if !bytes.Equal(rowA[4*x:4*x+4], rowB[4*x:4*x+4]) {
				if first < 0 {
					first = x
				}
				last = x
			}
		}
		r = r.Union(image.Rect(b.Min.X+first, y, b.Min.X+last+1, y+1))
	}
	return r
}

// Crop returns a copy of the part r of img, with its origin at (0, 0).
func Crop(img *image.RGBA, r image.Rectangle) *image.RGBA {
	r = r.Intersect(img.Rect)
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		i := img.PixOffset(r.Min.X, r.Min.Y+y)
		copy(out.Pix[y*out.Stride:y*out.Stride+4*r.Dx()], img.Pix[i:i+4*r.Dx()])
	}
	return out
}

// Shot is a screen grab once something was drawn.
type Shot struct {
	// Screen is the whole screen.
	Screen *image.RGBA
	// Window is the area that differs from the empty screen.
	Window image.Rectangle
	// Settled is true when two grabs in a row were identical; false means
	// the timeout came first and Screen is the last grab (an animation was
	// still running).
	Settled bool
}

// WaitSettled grabs the screen every interval until something differs from
// base and two grabs in a row are identical, or timeout passes. It fails
// only when nothing was ever drawn (or a grab fails).
func (s *Server) WaitSettled(ctx context.Context, base *image.RGBA, interval, timeout time.Duration) (Shot, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *image.RGBA
	for {
		img, err := s.Grab(ctx)
		if err != nil && ctx.Err() == nil {
			return Shot{}, err
		}
		if err != nil {
			break // timed out while grabbing
		}
		if win := Changed(base, img); !win.Empty() {
			if last != nil && bytes.Equal(last.Pix, img.Pix) {
				return Shot{Screen: img, Window: win, Settled: true}, nil
			}
			last = img
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
			t.Stop()
		}
		break
	}
	if last != nil {
		return Shot{Screen: last, Window: Changed(base, last)}, nil
	}
	return Shot{}, fmt.Errorf("display %s: nothing drawn within %s", s.display, timeout)
}
