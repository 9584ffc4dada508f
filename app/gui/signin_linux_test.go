package gui_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
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
	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/logmark"
	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/samlflow"
	"github.com/cvpn/cvpn/samlflow/signin"
	"github.com/cvpn/cvpn/samlflow/sp"
)

// federatedSession stands in for session.Run of a federated profile: it
// asks the owning front end for the browser sign-in of a real SP's
// AuthnRequest, checks the assertion with that SP and reports the
// connection up, with ovpn/client's events and error wording.
func federatedSession(server *sp.SP) func(ctx context.Context, o session.Options) error {
	return func(ctx context.Context, o session.Options) error {
		o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnecting})
		state, url, err := server.Begin()
		if err != nil {
			return err
		}
		o.Events(clientapi.Event{Event: clientapi.EventSAML, URL: url})
		o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateWaitingForBrowser, Detail: "sign in with your browser"})
		resp, err := o.Federation.SignIn(ctx, url)
		if err == nil {
			var id sp.Identity
			if id, err = server.Complete(state, resp); err == nil {
				o.Logger.Info("signed in", "user", id.User)
			}
		}
		if ctx.Err() != nil {
			o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return nil
		}
		if err != nil {
			err = fmt.Errorf("%w: browser sign-in: %w", clientapi.ErrAuthFailed, err)
			o.Events(clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
			o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return err
		}
		o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, TunnelIPv4: "10.100.0.7"})
		<-ctx.Done()
		o.Events(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
		return nil
	}
}

func portFree() error {
	l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", samlflow.DefaultPort))
	if err != nil {
		return err
	}
	return l.Close()
}

// TestBrowserSignInThroughTheDaemon is the federated sign-in of the GUI
// with the real parts: the daemon's connection manager over IPC (its
// session replaced by federatedSession), the app's backend running the
// 127.0.0.1:35001 listener, a real browser started through an opener that
// does not return until the browser exits (a fake xdg-open running
// headless Chromium in the foreground), the test IdP and the SP. Connect
// and sign in: connected within a second of the assertion reaching the
// listener; Cancel sign-in: port 35001 is free at once and connecting
// again works; nobody signs in: "Sign-in not completed" with Try again.
func TestBrowserSignInThroughTheDaemon(t *testing.T) {
	if chromium.FindBinary() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is required in CI")
		}
		t.Skip("chromium not installed")
	}
	if err := portFree(); err != nil {
		t.Skipf("port 35001 is taken by something else: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	dir := t.TempDir()

	idp, err := samlidp.Start(ctx, samlidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	if err := idp.AddUser(samlidp.User{Name: "alice", Password: "correct horse", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	server, err := sp.New(sp.Config{IdPMetadata: idp.MetadataXML})
	if err != nil {
		t.Fatal(err)
	}
	m, err := daemon.New(daemon.Config{StateDir: filepath.Join(dir, "state"), Run: federatedSession(server),
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

	opener, err := chromium.WriteOpener(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := chromium.StopOpeners(dir); err != nil {
			t.Error(err)
		}
	}()
	store, err := profilestore.Open(filepath.Join(dir, "home"), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ImportFile(filepath.Join(profiles, "good/aws-ad.ovpn"), "work"); err != nil {
		t.Fatal(err)
	}
	rec := logmark.New("received a SAML response")
	b := &daemonbackend.Backend{StoreProfiles: gui.StoreProfiles{Store: store}, Socket: sock, Logger: slog.New(rec),
		SignIn: signin.Browser{Opener: opener, Timeout: time.Minute}}
	u := gui.New(test.NewTempApp(t), b, gui.Options{})
	if err := u.UseSyncForTest(); err != nil {
		t.Fatal(err)
	}
	defer u.Stop()
	h := &harness{t: t, ui: u}

	// until drains the UI until cond holds (bounded).
	until := func(what string, d time.Duration, cond func() bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			u.Drain()
			if cond() {
				return time.Now()
			}
			if time.Now().After(deadline) {
				o := h.overlay()
				u.ShowLog("work")
				t.Fatalf("%s: not within %s (state %q, dialog %q)\nlog:\n%s", what, d, u.StateText(), texts(o), u.LogText("work"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	dialogWith := func(s string) func() bool {
		return func() bool { o := h.overlay(); return o != nil && strings.Contains(texts(o), s) }
	}
	runs := func() int { r, _ := chromium.OpenerRuns(dir); return len(r) }

	// 1. Connect and sign in.
	u.Connect("work")
	until("the browser sign-in dialog", 10*time.Second, dialogWith("Finish signing in to work"))
	until("the opener runs", 20*time.Second, func() bool { return runs() >= 1 })
	rs, _ := chromium.OpenerRuns(dir)
	page, err := chromium.Attach(ctx, rs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	if err := page.WaitFor(ctx, `document.querySelector('form#login input[name=user]')`); err != nil {
		t.Fatal(err)
	}
	if err := page.Eval(ctx, `(() => { const f = document.getElementById('login');
		f.user.value = 'alice'; f.password.value = 'correct horse'; f.submit(); return true })()`, nil); err != nil {
		t.Fatal(err)
	}
	connected := until("connected after signing in", 15*time.Second, func() bool { return strings.HasPrefix(u.StateText(), "Connected") })
	ours, browser := connected.Sub(rec.At()), connected.Sub(idp.Answered())
	t.Logf("connected %s after the IdP's answer, %s after the assertion reached 127.0.0.1:35001",
		browser.Round(time.Millisecond), ours.Round(time.Millisecond))
	if rec.At().IsZero() || ours > time.Second {
		t.Errorf("connected %s after the assertion reached the listener, want under 1 s", ours)
	}
	if browser > 5*time.Second {
		t.Errorf("connected %s after the IdP's answer", browser)
	}
	if rs[0].Exited() {
		t.Error("the opener exited: the test did not model a browser run in the foreground")
	}
	if h.overlay() != nil {
		t.Errorf("a dialog is still open after connecting: %q", texts(h.overlay()))
	}
	u.ShowLog("work")
	if log := u.LogText("work"); !strings.Contains(log, "browser sign-in started: "+idp.SSOURL) {
		t.Errorf("the connection log lacks the sign-in address:\n%s", log)
	}
	u.LogWindow("work").Close()
	u.Disconnect("work")
	until("disconnected", 10*time.Second, func() bool { return u.StateText() == "Not connected" })

	// 2. Cancel the sign-in from the dialog: port 35001 is free at once,
	// no error is shown, and connecting again works straight away.
	for i := 0; i < 2; i++ {
		u.Connect("work")
		until("the sign-in dialog", 10*time.Second, dialogWith("Finish signing in to work"))
		// The dialog follows the daemon's waiting-for-browser state; the
		// app binds 35001 right after it, before it starts the browser.
		until("35001 listening while the sign-in waits", 5*time.Second, func() bool { return portFree() != nil })
		h.tap(h.overlay(), "Cancel sign-in")
		t0 := time.Now()
		err := portFree()
		for err != nil && time.Since(t0) < time.Second {
			time.Sleep(10 * time.Millisecond)
			err = portFree()
		}
		if d := time.Since(t0); d > 50*time.Millisecond {
			t.Logf("round %d: 35001 was free %s after Cancel sign-in returned", i, d.Round(time.Millisecond))
		}
		if err != nil {
			out, _ := exec.Command("ss", "-tanp", "sport = :35001").CombinedOutput()
			t.Fatalf("round %d: port 35001 still taken right after Cancel sign-in: %v\n%s", i, err, out)
		}
		until("not connected after the cancel", 10*time.Second, func() bool { return u.StateText() == "Not connected" })
		if o := h.overlay(); o != nil {
			t.Fatalf("round %d: a dialog after cancelling: %q", i, texts(o))
		}
	}

	// 3. Nobody signs in: the (injected) short timeout is explained.
	b.SignIn.Timeout = 2 * time.Second
	u.Connect("work")
	until("the sign-in dialog", 10*time.Second, dialogWith("Finish signing in to work"))
	until("the timeout explained", 15*time.Second, dialogWith("Sign-in not completed"))
	o := h.overlay()
	if txt := texts(o); !strings.Contains(txt, "not completed in the browser within 2 seconds") ||
		strings.Contains(txt, "refused your user name") {
		t.Errorf("timeout dialog:\n%s", txt)
	}
	u.ShowLog("work")
	if log := u.LogText("work"); strings.Count(log, "not completed in the browser") != 1 {
		t.Errorf("the timeout is not in the log exactly once:\n%s", log)
	}
	u.LogWindow("work").Close()
	if err := portFree(); err != nil {
		t.Errorf("port 35001 taken after the timeout: %v", err)
	}
	b.SignIn.Timeout = time.Minute
	h.tap(o, "Try again")
	until("the sign-in dialog after Try again", 10*time.Second, dialogWith("Finish signing in to work"))
	h.tap(h.overlay(), "Cancel sign-in")
	until("not connected", 10*time.Second, func() bool { return u.StateText() == "Not connected" })
	if err := portFree(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("port 35001 taken at the end: %v", err)
	}
}
