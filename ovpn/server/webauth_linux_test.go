package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

var reWebAuthEvent = regexp.MustCompile(`\{[^\n]*"event":"web-auth"[^\n]*\}`)

// TestWebSignInLab: `web_auth = true` makes cvpn server answer alice's
// correct password with AUTH_PENDING and its own sign-in page; `cvpn
// connect --no-browser` prints the page once and waits; headless Chromium
// in the client namespace opens it, a wrong password is refused on the
// page, the right one completes the sign-in and cvpn connects. An OpenVPN
// 2.6 client (no webauth in IV_SSO) is refused with a message saying why.
func TestWebSignInLab(t *testing.T) {
	if chromium.FindBinary() == "" {
		nstest.RequireBinaries(t, "chromium") // skips, or fails under CI=true
	}
	ls := newLabServer(t, serverSpec{mutual: boolp(false), users: usersTOML(t, false), webAuth: true, wrap: "tls-crypt"})
	prof := ls.profile(t, "")
	creds := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(creds, []byte("alice\npw-alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := startCVPNArgs(t, ls, prof, "--no-browser", "--auth-user-pass", creds)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := cl.proc.WaitMatch(ctx, reWebAuthEvent)
	if err != nil {
		t.Fatalf("no web-auth event: %v\n%s", err, cl.proc.Output())
	}
	var ev struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(m[0]), &ev); err != nil || !strings.HasPrefix(ev.URL, "http://"+nstest.ServerIP.String()+":8080/signin/") {
		t.Fatalf("web-auth event %s: %v", m[0], err)
	}
	var b *chromium.Browser
	if err := nstest.InNS(ls.lab.Client, func() error {
		var err error
		b, err = chromium.Start(ctx, chromium.Options{})
		return err
	}); err != nil {
		t.Fatalf("chromium in the client namespace: %v", err)
	}
	defer b.Close()
	if err := b.Navigate(ctx, ev.URL); err != nil {
		t.Fatal(err)
	}
	fill := `(() => { const f = document.getElementById('signin'); f.password.value = PW; f.submit(); return true })()`
	if err := b.WaitFor(ctx, `document.getElementById('signin')`); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, strings.Replace(fill, "PW", `'wrong'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(ctx, `document.getElementById('error') && document.getElementById('error').innerText.includes('Wrong password')`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cl.proc.Output(), `"state":"connected"`) {
		t.Fatalf("connected after a wrong password on the sign-in page:\n%s", cl.proc.Output())
	}
	if err := b.Eval(ctx, strings.Replace(fill, "PW", `'pw-alice'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	ip := cl.waitConnected(t)
	if err := b.WaitFor(ctx, `document.getElementById('done') && document.getElementById('done').innerText.includes('Signed in as alice')`); err != nil {
		t.Errorf("the page did not confirm the sign-in: %v", err)
	}
	if n := strings.Count(cl.proc.Output(), `"event":"web-auth"`); n != 1 {
		t.Errorf("%d web-auth events, want one browser flow", n)
	}
	proveTraffic(t, ls.lab, ip)
	cl.disconnect(t)

	// OpenVPN 2.6 does not announce webauth: refused, with the reason.
	c26 := openvpnpeer.StartClient(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: prof, Username: "alice", Password: "pw-alice"})
	err = c26.WaitConnected(ctx)
	if err == nil || !strings.Contains(c26.AuthFailure(), "requires a web sign-in") {
		t.Errorf("OpenVPN 2.6 client: err %v, AUTH_FAILED line %q; want a refusal naming the web sign-in", err, c26.AuthFailure())
	}
}
