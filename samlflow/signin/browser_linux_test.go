package signin_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/logmark"
	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/samlflow/signin"
	"github.com/cvpn/cvpn/samlflow/sp"
)

func needChromium(t *testing.T) {
	t.Helper()
	if chromium.FindBinary() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is required in CI (make deps installs the Debian package chromium)")
		}
		t.Skip("chromium not installed; skipping the real-browser sign-in test")
	}
}

func portFree(port int) error {
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}

// reaped reports whether pid has gone for good (not even defunct).
func reaped(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return os.IsNotExist(err)
}

type outcome struct {
	resp string
	err  error
	at   time.Time
}

// TestSignInForegroundOpener signs in with a real browser started through
// an opener that, like xdg-open outside GNOME and KDE when the browser is
// not running yet, does not return until the browser exits. The assertion
// must be taken within a second of the IdP's answer while the opener still
// runs; a cancel must free the port at once; a timeout must say so.
func TestSignInForegroundOpener(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	probe, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	acs := "http://127.0.0.1:" + strconv.Itoa(port)

	idp, err := samlidp.Start(ctx, samlidp.Options{ACSURL: acs})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	if err := idp.AddUser(samlidp.User{Name: "alice", Password: "correct horse", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	server, err := sp.New(sp.Config{IdPMetadata: idp.MetadataXML, ACSURL: acs})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opener, err := chromium.WriteOpener(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	defer func() {
		if err := chromium.StopOpeners(dir); err != nil {
			t.Error(err)
		}
		runs, _ := chromium.OpenerRuns(dir)
		// Nobody waits for the openers but their reaper: once killed they
		// must not linger as defunct processes.
		for _, r := range runs {
			deadline := time.Now().Add(5 * time.Second)
			for !reaped(r.PID) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !reaped(r.PID) {
				t.Errorf("opener pid %d left behind (defunct) after it ended", r.PID)
			}
		}
	}()
	// nextRun waits for opener run number n (1-based).
	nextRun := func(n int) chromium.OpenerRun {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			runs, err := chromium.OpenerRuns(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) >= n {
				pids = append(pids, runs[n-1].PID)
				return runs[n-1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("the opener was not run (%d runs)", len(runs))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	signIn := func(ctx context.Context, b *signin.Browser) (<-chan outcome, string) {
		state, idpURL, err := server.Begin()
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan outcome, 1)
		go func() {
			r, err := b.SignIn(ctx, idpURL)
			out <- outcome{r, err, time.Now()}
		}()
		return out, state
	}

	// 1. Sign in.
	recv := logmark.New("received a SAML response")
	b := &signin.Browser{Port: port, Opener: opener, Timeout: 60 * time.Second, Logger: slog.New(recv)}
	res, state := signIn(ctx, b)
	run := nextRun(1)
	page, err := chromium.Attach(ctx, run, nil)
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
	var got outcome
	select {
	case got = <-res:
	case <-time.After(15 * time.Second):
		t.Fatalf("no assertion 15 s after the login form was sent (IdP answered: %v); the browser (and its opener) still runs",
			!idp.Answered().IsZero())
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	answered := idp.Answered()
	if answered.IsZero() {
		t.Fatal("SignIn returned but the IdP never answered")
	}
	// The browser's part (load the IdP's page, post it to the listener)
	// is Chromium's speed on a loaded machine; ours, from the listener's
	// receipt to SignIn's answer, must be immediate.
	lag, ours := got.at.Sub(answered), got.at.Sub(recv.At())
	t.Logf("assertion returned %s after the IdP's answer, %s after it reached the listener",
		lag.Round(time.Millisecond), ours.Round(time.Millisecond))
	if recv.At().IsZero() || ours > time.Second {
		t.Errorf("SignIn returned %s after the listener received the assertion, want under 1 s", ours)
	}
	if lag > 5*time.Second {
		t.Errorf("SignIn returned %s after the IdP's answer", lag)
	}
	if id, err := server.Complete(state, got.resp); err != nil || id.User != "alice@example.com" {
		t.Errorf("the server refused the assertion: %v (%+v)", err, id)
	}
	if run.Exited() {
		t.Error("the opener exited: the test did not model a browser started in the foreground")
	}
	if err := portFree(port); err != nil {
		t.Errorf("port not free after the sign-in: %v", err)
	}

	// 2. Cancel while the browser shows the IdP's form: the port is free
	// when SignIn returns, and the error says "cancelled".
	cctx, ccancel := context.WithCancel(ctx)
	res, _ = signIn(cctx, b)
	run = nextRun(2)
	p2, err := chromium.Attach(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if err := p2.WaitFor(ctx, `document.querySelector('form#login')`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	ccancel()
	select {
	case got = <-res:
	case <-time.After(5 * time.Second):
		t.Fatal("SignIn did not return 5 s after its context was cancelled")
	}
	if !errors.Is(got.err, signin.ErrCancelled) || !strings.Contains(got.err.Error(), "cancelled") {
		t.Errorf("cancelled sign-in error = %v", got.err)
	}
	if err := portFree(port); err != nil {
		t.Errorf("port still taken right after the cancel: %v", err)
	}
	t.Logf("cancel returned in %s", got.at.Sub(t0).Round(time.Millisecond))

	// 3. Nobody signs in: the (short, injected) timeout says what happened.
	short := &signin.Browser{Port: port, Opener: opener, Timeout: 2 * time.Second}
	t0 = time.Now()
	res, _ = signIn(ctx, short)
	nextRun(3)
	select {
	case got = <-res:
	case <-time.After(15 * time.Second):
		t.Fatal("SignIn did not time out")
	}
	if !errors.Is(got.err, signin.ErrTimeout) || !strings.Contains(got.err.Error(), "not completed in the browser within 2 seconds") {
		t.Errorf("timeout error = %v", got.err)
	}
	if d := got.at.Sub(t0); d > 5*time.Second {
		t.Errorf("a 2 s sign-in timed out after %s", d)
	}
	if err := portFree(port); err != nil {
		t.Errorf("port still taken after the timeout: %v", err)
	}
}
