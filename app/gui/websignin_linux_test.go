package gui_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/cvpn/cvpn/app/daemon"
	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/daemonbackend"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/samlflow/signin"
)

// webAuthSession stands in for session.Run against a server with a web
// sign-in, with ovpn/client's events: it shows the first page through the
// owning front end (the daemon's Federation is its IPC credentials),
// connects once decide says the user signed in, then (on the next
// decide) the sign-in expires:
// reauth-required (twice: overlapping triggers) and a new page, and it
// connects again on the next decision.
func webAuthSession(decide <-chan struct{}) func(ctx context.Context, o session.Options) error {
	return func(ctx context.Context, o session.Options) error {
		wa, ok := o.Federation.(clientapi.WebAuth)
		if !ok {
			return errors.New("the daemon's Federation cannot show a web sign-in page")
		}
		signIn := func(page string) bool {
			o.Events(clientapi.Event{Event: clientapi.EventWebAuth, URL: page})
			o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateWaitingForBrowser, Detail: "sign in with your browser; the server waits for it"})
			if err := wa.OpenURL(ctx, page); err != nil {
				o.Logger.Warn("could not open the sign-in page", "err", err)
			}
			select {
			case <-decide:
			case <-ctx.Done():
				return false
			}
			o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, TunnelIPv4: "10.100.0.7"})
			return true
		}
		if signIn("http://10.8.0.1:8080/signin/first") {
			select { // the session timeout
			case <-decide:
			case <-ctx.Done():
				return nil
			}
			for range 2 {
				o.Events(clientapi.Event{Event: clientapi.EventReauthRequired, Message: "your sign-in expired; sign in again"})
			}
			o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateReconnecting, Detail: "sign-in expired"})
			signIn("http://10.8.0.1:8080/signin/second")
		}
		<-ctx.Done()
		o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
		return nil
	}
}

// TestWebSignInThroughTheDaemonGUI: the app with the real daemon's
// connection manager over IPC (its session replaced by webAuthSession)
// and daemonbackend opening pages with an opener process: the first page
// opens at once and the app waits ("Waiting for you to sign in"); after
// the sign-in expires (reauth-required twice) the new page opens only
// after "Sign in again", exactly once, and the spent page never again.
func TestWebSignInThroughTheDaemonGUI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	decide := make(chan struct{})
	m, err := daemon.New(daemon.Config{StateDir: filepath.Join(dir, "state"), Run: webAuthSession(decide),
		Authorizer: daemon.Authorizer{}, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sock := filepath.Join(dir, "cvpn.sock")
	l, err := ipc.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); _ = (&ipc.Server{Handler: m}).Serve(sctx, l) }()
	defer func() { scancel(); <-served }()

	openedFile := filepath.Join(dir, "opened")
	opener := filepath.Join(dir, "opener")
	if err := os.WriteFile(opener, []byte("#!/bin/sh\necho \"$1\" >> '"+openedFile+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pages := func() []string { b, _ := os.ReadFile(openedFile); return strings.Fields(string(b)) }
	store, err := profilestore.Open(filepath.Join(dir, "home"), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ImportFile(filepath.Join(profiles, "good/aws-mutual.ovpn"), "work"); err != nil {
		t.Fatal(err)
	}
	b := &daemonbackend.Backend{StoreProfiles: gui.StoreProfiles{Store: store}, Socket: sock, SignIn: signin.Browser{Opener: opener}}
	defer b.Close()
	u := gui.New(test.NewTempApp(t), b, gui.Options{})
	if err := u.UseSyncForTest(); err != nil {
		t.Fatal(err)
	}
	defer u.Stop()
	h := &harness{t: t, ui: u}
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			u.Drain()
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 15 s (state %q, dialog %q, pages %v)", what, u.StateText(), texts(h.overlay()), pages())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	dialogWith := func(s string) func() bool {
		return func() bool { o := h.overlay(); return o != nil && strings.Contains(texts(o), s) }
	}
	decideNow := func() {
		select {
		case decide <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the session does not wait for the sign-in")
		}
	}

	u.Connect("work")
	until("the waiting dialog", dialogWith("Waiting for you to sign in to work in your browser"))
	until("the first page opened", func() bool { return len(pages()) == 1 })
	if p := pages(); p[0] != "http://10.8.0.1:8080/signin/first" {
		t.Fatalf("opened %v", p)
	}
	decideNow()
	until("connected", func() bool { return strings.HasPrefix(u.StateText(), "Connected") })
	decideNow() // the sign-in expires

	until("Sign in again", dialogWith("has expired"))
	time.Sleep(300 * time.Millisecond) // the held page would have opened by now
	u.Drain()
	if p := pages(); len(p) != 1 {
		t.Fatalf("a page opened before Sign in again: %v", p)
	}
	if n := len(u.Window().Canvas().Overlays().List()); n != 1 {
		t.Fatalf("%d dialogs for two overlapping triggers, want one", n)
	}
	again := button(h.overlay(), "Sign in again")
	test.Tap(again)
	test.Tap(again)
	until("the new page opened", func() bool { return len(pages()) >= 2 })
	until("the waiting dialog for the new page", dialogWith("Waiting for you to sign in"))
	decideNow()
	until("connected again", func() bool { return strings.HasPrefix(u.StateText(), "Connected") })
	time.Sleep(300 * time.Millisecond)
	if p := pages(); len(p) != 2 || p[1] != "http://10.8.0.1:8080/signin/second" {
		t.Fatalf("pages opened %v; want the first, then only the new one", p)
	}
	u.Disconnect("work")
	until("disconnected", func() bool { return len(m.Status(ipc.Peer{UID: 0})) == 0 })
}
