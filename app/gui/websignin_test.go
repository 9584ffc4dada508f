package gui_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// opened records the pages the GUI's "Open again" opens.
type opened struct {
	mu   sync.Mutex
	urls []string
}

func (o *opened) open(_ context.Context, url string) error {
	o.mu.Lock()
	o.urls = append(o.urls, url)
	o.mu.Unlock()
	return nil
}

func (o *opened) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.urls...)
}

func lastCall(h *harness) string {
	c := h.fake.Calls()
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

// TestWebSignInWaitingState: an OpenVPN server's web sign-in (web-auth
// event, the page the backend opened in the browser) shows "Waiting for
// you to sign in … in your browser" with Open again (opens that page
// again, as the user) and Cancel (disconnects); connecting closes it.
func TestWebSignInWaitingState(t *testing.T) {
	op := &opened{}
	h := newHarnessWith(t, gui.Options{OpenURL: op.open})
	h.importFile("good/aws-mutual.ovpn")
	test.Tap(h.ui.ToggleButton())
	page := "http://10.8.0.1:8080/signin/abc"
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventWebAuth, URL: page})
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventState, State: clientapi.StateWaitingForBrowser,
		Detail: "sign in with your browser; the server waits for it"})
	o := h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "Waiting for you to sign in to aws-mutual in your browser") {
		t.Fatalf("dialog text:\n%s", txt)
	}
	h.tap(o, "Open again")
	h.ui.Drain()
	if got := op.list(); len(got) != 1 || got[0] != page {
		t.Fatalf("Open again opened %v, want %s", got, page)
	}
	// Signed in: the tunnel comes up and the dialog goes.
	h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
	h.ui.Drain()
	if h.overlay() != nil {
		t.Fatalf("the waiting dialog is still shown after connecting:\n%s", texts(h.overlay()))
	}

	// Cancel gives the connection up.
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventWebAuth, URL: page + "2"})
	o = h.waitOverlay()
	h.tap(o, "Cancel")
	h.ui.Drain()
	if c := lastCall(h); c != "disconnect aws-mutual" {
		t.Fatalf("last call after Cancel: %q (%v)", c, h.fake.Calls())
	}
	if h.overlay() != nil {
		t.Fatalf("the waiting dialog is still shown after Cancel:\n%s", texts(h.overlay()))
	}
}

// TestWebSignInAgain: when a web sign-in expires (reauth-required) the
// server's new page waits behind "Sign in again": no waiting dialog while
// the question is open; Sign in again asks the backend once and then
// shows the waiting state for the new page (Open again opens the new
// page, never the spent one).
func TestWebSignInAgain(t *testing.T) {
	op := &opened{}
	h := newHarnessWith(t, gui.Options{OpenURL: op.open})
	h.importFile("good/aws-mutual.ovpn")
	test.Tap(h.ui.ToggleButton())
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventWebAuth, URL: "http://10.8.0.1:8080/signin/spent"})
	h.fake.ConnectScript("aws-mutual", "vpn.lab.test:443/udp", "10.100.0.6")
	h.ui.Drain()
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventReauthRequired, Message: "your sign-in expired; sign in again"})
	h.fake.Emit("aws-mutual", clientapi.Event{Event: clientapi.EventWebAuth, URL: "http://10.8.0.1:8080/signin/new"})
	o := h.waitOverlay()
	if n := len(h.ui.Window().Canvas().Overlays().List()); n != 1 {
		t.Fatalf("%d dialogs, want only Sign in again:\n%s", n, texts(o))
	}
	if txt := texts(o); !strings.Contains(txt, "has expired") {
		t.Fatalf("dialog text:\n%s", txt)
	}
	b := button(o, "Sign in again")
	test.Tap(b)
	test.Tap(b)
	h.ui.Drain()
	var again int
	for _, c := range h.fake.Calls() {
		if c == "signin-again aws-mutual" {
			again++
		}
	}
	if again != 1 {
		t.Fatalf("%d sign-in requests, want 1: %v", again, h.fake.Calls())
	}
	o = h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "Waiting for you to sign in") {
		t.Fatalf("after Sign in again:\n%s", txt)
	}
	h.tap(o, "Open again")
	h.ui.Drain()
	if got := op.list(); len(got) != 1 || got[0] != "http://10.8.0.1:8080/signin/new" {
		t.Fatalf("Open again opened %v, want only the new page", got)
	}
}

// TestCRTextDialog: a server's CR_TEXT question (asked through the same
// Challenge as an MFA code) shows its text in a dialog; the answer goes
// back to the backend.
func TestCRTextDialog(t *testing.T) {
	h := newHarness(t)
	h.importFile("good/aws-mutual.ovpn")
	test.Tap(h.ui.ToggleButton())
	h.ui.Drain()
	creds := h.fake.Credentials("aws-mutual")
	if creds == nil {
		t.Fatal("the GUI gave the backend no credentials for the connection")
	}
	answer := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a, err := creds.Challenge(ctx, "Enter the PIN sent to your phone", true)
		if err != nil {
			a = "error: " + err.Error()
		}
		answer <- a
	}()
	o := h.waitOverlay()
	if txt := texts(o); !strings.Contains(txt, "Enter the PIN sent to your phone") {
		t.Fatalf("dialog text:\n%s", txt)
	}
	es := entries(o)
	if len(es) != 1 {
		t.Fatalf("%d entries in the dialog", len(es))
	}
	test.Type(es[0], "8642")
	h.tap(o, "Verify")
	select {
	case a := <-answer:
		if a != "8642" {
			t.Fatalf("answer %q", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
}
