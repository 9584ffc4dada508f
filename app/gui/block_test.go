package gui_test

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/gui"
)

func check(o fyne.CanvasObject, text string) *widget.Check {
	var found *widget.Check
	walk(o, func(c fyne.CanvasObject) {
		if x, ok := c.(*widget.Check); ok && x.Text == text && found == nil {
			found = x
		}
	})
	return found
}

// TestBlockSwitchAndReenableNetwork: the per-profile switch makes the
// connect block traffic while the tunnel is down; "Re-enable network"
// explains the captive-portal case and lifts the block.
func TestBlockSwitchAndReenableNetwork(t *testing.T) {
	h := newHarness(t)
	h.fake.BlockWhenDown = func(name string) bool {
		return h.app.Preferences().BoolWithFallback(gui.PrefBlockWhenDown(name), false)
	}
	h.importFile("good/aws-mutual.ovpn")
	content := h.ui.Window().Content()
	sw := check(content, "Block traffic while the tunnel is down")
	if sw == nil || sw.Checked {
		t.Fatalf("block switch %v, want one, off", sw)
	}
	if button(content, "Re-enable network") != nil {
		t.Fatal("Re-enable network shown before anything is blocked")
	}
	test.Tap(sw)
	if !h.app.Preferences().Bool(gui.PrefBlockWhenDown("aws-mutual")) {
		t.Fatal("the switch did not store the profile's preference")
	}
	test.Tap(h.ui.ToggleButton())
	h.ui.Drain()
	if c := h.fake.Calls(); len(c) != 1 || c[0] != "connect aws-mutual --block-when-down" {
		t.Fatalf("calls %v", c)
	}
	re := button(h.ui.Window().Content(), "Re-enable network")
	if re == nil {
		t.Fatal("no Re-enable network action while blocked")
	}
	test.Tap(re)
	d := h.waitOverlay()
	if txt := texts(d); !strings.Contains(txt, "captive portal") || !strings.Contains(txt, "only by an administrator") {
		t.Errorf("re-enable dialog does not explain captive portals and forced blocks:\n%s", txt)
	}
	h.tap(d, "Re-enable network")
	deadline := 300
	for ; deadline > 0 && len(h.fake.Calls()) < 2; deadline-- {
		h.ui.Drain()
	}
	if c := h.fake.Calls(); len(c) != 2 || c[1] != "unblock" {
		t.Fatalf("calls %v, want the unblock request", c)
	}
	info := h.waitOverlay()
	for i := 0; i < 100 && !strings.Contains(texts(info), "Lifted"); i++ {
		h.ui.Drain()
		info = h.overlay()
	}
	if !strings.Contains(texts(info), `Lifted the full block of "aws-mutual"`) {
		t.Errorf("result dialog:\n%s", texts(info))
	}
	h.ui.Drain()
	if button(h.ui.Window().Content(), "Re-enable network") != nil {
		t.Error("Re-enable network still shown after the block was lifted")
	}
}
