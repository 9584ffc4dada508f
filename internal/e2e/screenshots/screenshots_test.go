//go:build screenshots

package screenshots

import (
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/cvpn/cvpn/app/gui"
)

// TestScreenshots writes the PNGs into $CVPN_SCREENSHOTS (default
// build/screenshots at the repository root):
//
//	go test -tags screenshots -run TestScreenshots ./internal/e2e/screenshots/
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("CVPN_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "build", "screenshots")
	}
	a := test.NewTempApp(t)
	variant := theme.VariantDark
	if os.Getenv("CVPN_SCREENSHOTS_LIGHT") != "" {
		variant = theme.VariantLight
	}
	a.Settings().SetTheme(gui.ThemeVariant(variant))
	if err := Write(a, dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Size() < 10_000 {
			t.Errorf("%s: %v (size %d)", f, err, fi.Size())
		}
	}
}
