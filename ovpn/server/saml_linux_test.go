package server_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/ovpn/server/config"
)

// needChromium skips without Chromium locally and fails under CI=true.
func needChromium(t *testing.T) {
	t.Helper()
	if chromium.FindBinary() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is required in CI (make deps installs the Debian package chromium)")
		}
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the federated sign-in lab")
	}
}

var reSAMLEvent = regexp.MustCompile(`\{[^\n]*"event":"saml"[^\n]*\}`)

// samlURL waits for the client's saml event and returns its URL.
func samlURL(t *testing.T, c *cvpnClient) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := c.proc.WaitMatch(ctx, reSAMLEvent)
	if err != nil {
		t.Fatalf("no saml event from cvpn: %v", err)
	}
	var ev struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(m[0]), &ev); err != nil || !strings.HasPrefix(ev.URL, "http://127.0.0.1:") {
		t.Fatalf("saml event %s: %v", m[0], err)
	}
	return ev.URL
}

// TestFederatedSignInLab is the whole federated exchange in a namespace
// lab: the test IdP and headless Chromium run on loopback in the client
// namespace, our server (mutual + federated) reads the IdP metadata from a
// file, `cvpn connect --no-browser --json` prints the saml event, the
// browser signs in (a wrong password first), the IdP posts to
// 127.0.0.1:35001 and cvpn connects. The user's group (eng) decides which
// LAN address is reachable; the connection log records the three steps.
// A second client finds port 35001 taken and says so exactly.
func TestFederatedSignInLab(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var idp *samlidp.IdP
	spec := serverSpec{split: true, samlMetadata: "idp-metadata.xml", rules: []config.RuleFile{
		{Destination: "0.0.0.0/0"},
		{Destination: nstest.LANHostIP.String() + "/32", AccessGroup: "eng"},
		{Destination: nstest.ServerLANIP.String() + "/32", AccessGroup: "ops"},
	}}
	spec.prepareLab = func(t *testing.T, lab *nstest.Lab, dir string) {
		err := nstest.InNS(lab.Client, func() error {
			var err error
			idp, err = samlidp.Start(ctx, samlidp.Options{Addr: "127.0.0.1:0"})
			return err
		})
		if err != nil {
			t.Fatalf("test IdP in the client namespace: %v", err)
		}
		t.Cleanup(func() { idp.Close() })
		if err := idp.AddUser(samlidp.User{Name: "alice", Password: "correct horse", Email: "alice@example.com",
			FirstName: "Alice", LastName: "Liddell", Groups: []string{"eng"}}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "idp-metadata.xml"), idp.MetadataXML, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ls := newLabServer(t, spec)
	prof := ls.profile(t, "")
	for _, d := range []string{"auth-federate", "auth-user-pass", "<cert>"} {
		if !strings.Contains(prof, d) {
			t.Errorf("exported profile lacks %q:\n%s", d, prof)
		}
	}

	// Port 35001 taken in the client namespace: exact message, no connection.
	var busy net.Listener
	if err := nstest.InNS(ls.lab.Client, func() error {
		var err error
		busy, err = net.Listen("tcp4", "127.0.0.1:35001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	blocked := startCVPNArgs(t, ls, prof, "--no-browser")
	select {
	case <-blocked.proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("cvpn did not give up while port 35001 was taken")
	}
	busy.Close()
	if out := blocked.proc.Output(); !strings.Contains(out, "The authentication flow could not be initiated. There are no available ports.") ||
		strings.Contains(out, `"state":"connected"`) {
		t.Errorf("port busy: output lacks the exact message or connected anyway:\n%s", out)
	}

	// The real sign-in.
	cl := startCVPNArgs(t, ls, prof, "--no-browser")
	url := samlURL(t, cl)
	if !strings.HasPrefix(url, idp.SSOURL+"?SAMLRequest=") {
		t.Errorf("saml URL %q does not point at the IdP %s", url, idp.SSOURL)
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
	step := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(ctx, d)
		t.Cleanup(cancel)
		return c
	}
	if err := b.Navigate(step(20*time.Second), url); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(step(20*time.Second), `document.querySelector('form#login input[name=user]')`); err != nil {
		t.Fatal(err)
	}
	fill := `(() => { const f = document.getElementById('login');
		f.user.value = 'alice'; f.password.value = PW; f.submit(); return true })()`
	if err := b.Eval(step(10*time.Second), strings.Replace(fill, "PW", `'wrong'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitFor(step(20*time.Second), `document.getElementById('error') && document.getElementById('error').innerText.includes('Invalid username or password')`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cl.proc.Output(), `"state":"connected"`) || cl.proc.Exited() {
		t.Fatalf("a wrong IdP password changed the client's state:\n%s", cl.proc.Output())
	}
	if err := b.Eval(step(10*time.Second), strings.Replace(fill, "PW", `'correct horse'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	ip := cl.waitConnected(t)
	if err := b.WaitFor(step(20*time.Second), `document.body && document.body.innerText.includes('You can close this window')`); err != nil {
		t.Errorf("browser did not show the listener's page: %v", err)
	}

	proveTraffic(t, ls.lab, ip)
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	if err := nstest.PingFails(pctx, ls.lab.Client, nstest.ServerLANIP); err != nil {
		t.Errorf("alice (eng) reaches the ops-only address %s: %v", nstest.ServerLANIP, err)
	}
	conns := listConnections(t, ls)
	if len(conns) != 1 || conns[0]["username"] != "alice@example.com" {
		t.Errorf("connections = %v, want alice@example.com", conns)
	}
	cl.disconnect(t)

	// Connection log: waiting-for-assertion, then assertion-received and
	// the successful attempt of alice on the phase-2 connection.
	var waiting, reset, ok bool
	var phase2 string
	for _, e := range readConnLog(t, ls) {
		switch {
		case e["connection-attempt-status"] == "waiting-for-assertion" && e["connection-attempt-failure-reason"] == "NA":
			waiting = true
		case e["connection-log-type"] == "connection-reset" && e["connection-reset-status"] == "assertion-received" && e["connection-attempt-status"] == "NA":
			reset, phase2 = true, e["connection-id"]
		case e["connection-attempt-status"] == "successful" && e["username"] == "alice@example.com" && e["connection-id"] == phase2 && e["common-name"] == "client1":
			ok = true
		}
	}
	if !waiting || !reset || !ok {
		b, _ := os.ReadFile(filepath.Join(ls.dir, "connections.log"))
		t.Errorf("connection log: waiting-for-assertion=%v assertion-received=%v successful=%v\n%s", waiting, reset, ok, b)
	}
	if m := fetchMetrics(t, ls); !strings.Contains(m, `AuthenticationFailures{endpoint="cvpn-endpoint-test"} 0`) {
		t.Logf("metrics (the busy-port client's phase 1 is not a failure):\n%s", m)
		t.Errorf("phase 1 challenges were counted as authentication failures")
	}
}

// startCVPNArgs is startCVPN with extra arguments.
func startCVPNArgs(t *testing.T, ls *labServer, profile string, extra ...string) *cvpnClient {
	t.Helper()
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"env", "CVPN_HOME=" + home, cvpnBinary(t), "connect", pf, "--json"}, extra...)
	c := &cvpnClient{proc: nstest.Start(t, ls.lab.Client, argv...)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cvpn client output:\n%s", c.proc.Output())
		}
	})
	return c
}
