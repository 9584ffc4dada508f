package gui_test

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// TestSignInAgainDialog: when a federated sign-in expires the GUI shows
// "Sign in again" once, even when the trigger repeats; its button asks
// the backend for exactly one browser sign-in; "Disconnect" disconnects.
func TestSignInAgainDialog(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	test.Tap(h.ui.ToggleButton())
	h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
	reauth := clientapi.Event{Event: clientapi.EventReauthRequired, Message: "your sign-in expired; sign in again"}
	h.fake.Emit("aws-mutual", reauth)
	o := h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "Your sign-in to aws-mutual has expired") {
		t.Fatalf("dialog text:\n%s", txt)
	}
	h.fake.Emit("aws-mutual", reauth) // overlapping trigger
	h.ui.Drain()
	if n := len(h.ui.Window().Canvas().Overlays().List()); n != 1 {
		t.Fatalf("%d dialogs after a repeated trigger, want 1", n)
	}
	b := button(o, "Sign in again")
	if b == nil {
		t.Fatalf("no Sign in again button:\n%s", texts(o))
	}
	test.Tap(b)
	test.Tap(b) // a double click
	h.ui.Drain()
	var again []string
	for _, c := range h.fake.Calls() {
		if strings.HasPrefix(c, "signin-again") {
			again = append(again, c)
		}
	}
	if len(again) != 1 || again[0] != "signin-again aws-mutual" {
		t.Fatalf("sign-in requests %v, want exactly one for aws-mutual", again)
	}
	if h.overlay() != nil {
		t.Fatal("the dialog is still shown after Sign in again")
	}

	// The next expiry asks again; Disconnect gives the connection up.
	h.fake.Emit("aws-mutual", reauth)
	o = h.waitOverlay()
	h.tap(o, "Disconnect")
	h.ui.Drain()
	if c := h.fake.Calls(); c[len(c)-1] != "disconnect aws-mutual" {
		t.Fatalf("calls after Disconnect: %v", c)
	}
}
