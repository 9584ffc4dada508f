package samlflow_test

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/samlflow/listener"
	"github.com/cvpn/cvpn/samlflow/sp"
)

// needChromium skips without Chromium locally and fails under CI=true.
func needChromium(t *testing.T) {
	t.Helper()
	if chromium.FindBinary() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is required in CI (apt-get install -y chromium)")
		}
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the real-browser SAML test")
	}
}

// TestBrowserSignIn is the whole federated exchange with a real browser:
// SP.Begin -> headless Chromium opens the IdP URL -> the login form is
// filled and submitted -> the IdP's auto-submitted POST reaches our
// listener -> SP.Complete validates it and the groups come through.
func TestBrowserSignIn(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The listener on a free port; the IdP's SP metadata and our SP agree
	// on that ACS URL (production uses 127.0.0.1:35001).
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
	if err := idp.AddUser(samlidp.User{Name: "alice", Password: "correct horse", Email: "alice@example.com",
		FirstName: "Alice", LastName: "Liddell", Groups: []string{"Engineering", "lan-users"}}); err != nil {
		t.Fatal(err)
	}
	server, err := sp.New(sp.Config{IdPMetadata: idp.MetadataXML, ACSURL: acs})
	if err != nil {
		t.Fatal(err)
	}
	state, idpURL, err := server.Begin()
	if err != nil {
		t.Fatal(err)
	}

	l, err := listener.Listen(ctx, listener.Options{Port: port, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	b, err := chromium.Start(ctx, chromium.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Navigate(ctx, idpURL); err != nil {
		t.Fatal(err)
	}
	step := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(ctx, d)
		t.Cleanup(cancel)
		return c
	}
	if err := b.WaitFor(step(20*time.Second), `document.querySelector('form#login input[name=user]')`); err != nil {
		t.Fatal(err)
	}
	// A wrong password first: the IdP shows its error and the form again.
	fill := `(() => { const f = document.getElementById('login');
		f.user.value = 'alice'; f.password.value = %s; f.submit(); return true })()`
	if err := b.Eval(ctx, strings.Replace(fill, "%s", `'wrong'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(step(20*time.Second), `document.getElementById('error') && document.getElementById('error').innerText.includes('Invalid username or password')`); err != nil {
		t.Fatal(err)
	}
	if err := b.Eval(ctx, strings.Replace(fill, "%s", `'correct horse'`, 1), nil); err != nil {
		t.Fatal(err)
	}

	resp, err := l.Wait(step(45 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// The browser shows our thank-you page.
	if err := b.WaitFor(step(20*time.Second), `document.body && document.body.innerText.includes('You can close this window')`); err != nil {
		t.Fatal(err)
	}
	if loc, _ := b.Location(ctx); !strings.HasPrefix(loc, acs) {
		t.Errorf("browser ended at %q, want the listener %s", loc, acs)
	}

	id, err := server.Complete(state, resp)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice@example.com" || id.FirstName != "Alice" || id.LastName != "Liddell" {
		t.Errorf("identity %+v", id)
	}
	if strings.Join(id.Groups, ",") != "Engineering,lan-users" {
		t.Errorf("groups %q", id.Groups)
	}
	// The port is free again after one assertion.
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("listener port not released: %v", err)
	}
	ln.Close()
}
