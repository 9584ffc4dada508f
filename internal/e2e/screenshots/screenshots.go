package screenshots

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/guitest"
	"github.com/cvpn/cvpn/app/profilestore"
)

// Files are the PNGs written, in order.
var Files = []string{"01-disconnected.png", "02-connected.png", "03-banner.png", "04-error.png"}

// Write builds the main window in a, drives it through the scenes of
// guitest.Scenes with events from a fake backend and writes one PNG per
// scene into dir. Call it on the fyne main goroutine. The profiles live in
// a temporary data root that is removed afterwards.
func Write(a fyne.App, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "cvpn-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	store, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		return err
	}
	if err := guitest.AddExampleProfiles(store); err != nil {
		return err
	}
	now := time.Now()
	u := gui.New(a, guitest.New(store, nil), gui.Options{Now: func() time.Time { return now }})
	defer u.Stop()
	w := u.Window()
	w.Resize(fyne.NewSize(900, 560))
	w.Show()
	for _, s := range guitest.Scenes(u, now) {
		s.Apply()
		if err := writePNG(w, filepath.Join(dir, s.Name+".png")); err != nil {
			return err
		}
	}
	return nil
}

func writePNG(w fyne.Window, path string) error {
	img := w.Canvas().Capture()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
