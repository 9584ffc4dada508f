package gui_test

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/contrast"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// TestNewInstallsTheme checks that the window gets cvpn's theme, not
// fyne's default one whose secondary text is unreadable.
func TestNewInstallsTheme(t *testing.T) {
	h := newHarness(t)
	v := h.app.Settings().ThemeVariant()
	got := h.app.Settings().Theme().Color(theme.ColorNameDisabled, v)
	want := gui.ThemeVariant(v).Color(theme.ColorNameDisabled, v)
	if got != want {
		t.Fatalf("secondary text colour %s, want cvpn's %s", contrast.Hex(got), contrast.Hex(want))
	}
}

// TestMainWindowTextIsReadable draws the main window in both variants,
// disconnected, connecting, connected, failed with the service down, and checks every text it
// draws outside buttons against the window background: a label given a
// colour the contrast table does not cover fails here.
func TestMainWindowTextIsReadable(t *testing.T) {
	for _, vr := range []struct {
		name string
		v    fyne.ThemeVariant
	}{{"light", theme.VariantLight}, {"dark", theme.VariantDark}} {
		t.Run(vr.name, func(t *testing.T) {
			h := newHarness(t)
			th := gui.ThemeVariant(vr.v)
			h.app.Settings().SetTheme(th)
			bg := th.Color(theme.ColorNameBackground, vr.v)
			h.importFile("good/routes.ovpn")
			h.importFile("good/aws-mutual.ovpn") // selected
			check := func(state string) {
				t.Helper()
				n := 0
				readable(h.ui.Window().Content(), func(tx *canvas.Text) {
					n++
					r := contrast.TextRatio(tx.Color, bg)
					if min := contrast.Min(tx.TextSize, tx.TextStyle.Bold); r < min {
						t.Errorf("%s: %q in %s on %s: %.2f:1, AA asks %.1f:1",
							state, tx.Text, contrast.Hex(tx.Color), contrast.Hex(bg), r, min)
					}
				})
				if n < 10 {
					t.Fatalf("%s: only %d texts found in the window", state, n)
				}
			}
			check("disconnected")
			test.Tap(h.ui.ToggleButton())
			h.ui.Drain()
			check("connecting")
			h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
			h.ui.Drain()
			check("connected")
			h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventError, Message: "read udp: i/o timeout"})
			h.ui.Drain()
			h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			h.ui.Drain()
			if _, shown := h.ui.ErrorBox(); !shown {
				t.Fatal("error box not shown after a failed connection")
			}
			h.ui.SetServiceProblem(gui.ErrDaemonNotRunning)
			check("failed, service down")
		})
	}
}

// readable calls f for every visible, non-empty text below o, except text
// on buttons (drawn on the button's own colour; textRoles covers those).
func readable(o fyne.CanvasObject, f func(*canvas.Text)) {
	if o == nil || !o.Visible() {
		return
	}
	switch x := o.(type) {
	case *canvas.Text:
		if x.Text != "" && x.Color != nil && x.Color != color.Transparent {
			f(x)
		}
	case *widget.Button:
	case *fyne.Container:
		for _, c := range x.Objects {
			readable(c, f)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			readable(c, f)
		}
	}
}
