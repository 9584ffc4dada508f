package xvfbshot

import (
	"context"
	"image"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func needXvfb(t *testing.T) {
	t.Helper()
	for _, p := range []string{"Xvfb", "xwd"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (Debian packages xvfb, x11-apps): %v", p, err)
		}
	}
}

func TestServerGrabEmptyScreen(t *testing.T) {
	needXvfb(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Width: 640, Height: 480})
	if err != nil {
		t.Fatal(err)
	}
	pid := s.Pid()
	t.Cleanup(func() { s.Close() })
	if !strings.HasPrefix(s.Display(), ":") {
		t.Fatalf("display %q", s.Display())
	}
	img, err := s.Grab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect != image.Rect(0, 0, 640, 480) {
		t.Fatalf("grab bounds %v, want 640x480", img.Rect)
	}
	// -br: the empty root window is black.
	for i := 0; i < len(img.Pix); i += 4 {
		if img.Pix[i] != 0 || img.Pix[i+1] != 0 || img.Pix[i+2] != 0 || img.Pix[i+3] != 0xff {
			t.Fatalf("pixel %d = %v, want opaque black", i/4, img.Pix[i:i+4])
		}
	}
	// Nothing is ever drawn: WaitSettled gives up after its timeout.
	if _, err := s.WaitSettled(ctx, img, 50*time.Millisecond, 500*time.Millisecond); err == nil ||
		!strings.Contains(err.Error(), "nothing drawn") {
		t.Errorf("WaitSettled on an empty screen: err = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The process has exited and was reaped.
	if s.cmd.ProcessState == nil {
		t.Errorf("Xvfb pid %d not reaped after Close", pid)
	}
	if _, err := s.Grab(ctx); err == nil {
		t.Error("grab after Close succeeded")
	}
}

func TestStartMissingProgram(t *testing.T) {
	_, err := Start(context.Background(), Options{Xvfb: "cvpn-no-such-xvfb"})
	if err == nil || !strings.Contains(err.Error(), "xvfb") {
		t.Fatalf("err = %v, want it to name the Debian package", err)
	}
}

func TestStartReportsServerFailure(t *testing.T) {
	needXvfb(t)
	// Depth 7 makes Xvfb exit before reporting a display; its own
	// message is part of the error.
	s, err := Start(context.Background(), Options{Width: 64, Height: 64, Depth: 7})
	if err == nil {
		s.Close()
		t.Fatal("Start with depth 7 succeeded")
	}
	if !strings.Contains(err.Error(), "did not report a display") || !strings.Contains(err.Error(), "screen") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Start(context.Background(), Options{Width: -5, Height: 3}); err == nil ||
		!strings.Contains(err.Error(), "-5x3") {
		t.Errorf("negative width: err = %v", err)
	}
}
