package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/internal/testkit/chromium"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

var reWebAuthEvent = regexp.MustCompile(`\{[^\n]*"event":"web-auth"[^\n]*\}`)

// serverTunnelIP is cvpn server's own address in its default client CIDR
// (10.100.0.0/22): only the tunnel reaches it from the client namespace.
var serverTunnelIP = netip.MustParseAddr("10.100.0.1")

// procStatus returns the Uid (real) and PPid of a process from
// /proc/PID/status.
func procStatus(t *testing.T, pid int) (uid, ppid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("opener process %d: %v", pid, err)
	}
	uid, ppid = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Uid:":
			uid, _ = strconv.Atoi(f[1])
		case "PPid:":
			ppid, _ = strconv.Atoi(f[1])
		}
	}
	return uid, ppid
}

// TestWebSignInThroughTheDaemon: an unprivileged `cvpn connect` through
// the real daemon, to the real `cvpn server` with web_auth = true. The
// server answers the password with AUTH_PENDING and its own sign-in page;
// the daemon (root) opens no browser but asks the front end, which runs
// the opener (a fake xdg-open starting headless Chromium) as the user: the
// opener's uid is the user's and its parent is the cvpn connect process.
// On the page a wrong password is refused and the connection stays
// pending; the right one connects, and a ping reaches the server's tunnel
// address, which has no route without the tunnel. One web-auth event,
// one page; nothing is left behind after the disconnect.
func TestWebSignInThroughTheDaemon(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "setpriv", "ping")
	if chromium.FindBinary() == "" {
		nstest.RequireBinaries(t, "chromium") // skips, or fails under CI=true
	}
	e := newEnv(t)
	lab := nstest.New(t, nstest.Options{})
	before := nstest.MustSnapshot(t, lab.Client)

	const password = "pw-alice-Web"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	srvDir := t.TempDir()
	server := nstest.ServerIP.String()
	if out, err := nstest.Run(context.Background(), lab.Server, e.bin, "server", "init", srvDir, "--ecdsa",
		"--public-address", server, "--listen", server+":1194"); err != nil {
		t.Fatalf("server init: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(srvDir, "server.toml")
	cfg, _ := os.ReadFile(cfgPath)
	doc := strings.Replace(string(cfg), `users_file = ""`, `users_file = "users.toml"`, 1)
	doc = strings.Replace(doc, "web_auth = false", "web_auth = true", 1)
	if err := os.WriteFile(cfgPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srvDir, "users.toml"), fmt.Appendf(nil, "[[user]]\nname = \"alice\"\npassword_bcrypt = %q\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := nstest.Start(t, lab.Server, e.bin, "server", "run", "--config", cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := srv.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v\n%s", err, srv.Output())
	}
	text, err := nstest.Run(ctx, lab.Server, e.bin, "server", "export-client-config", "--config", cfgPath)
	if err != nil || !strings.Contains(text, "auth-user-pass") {
		t.Fatalf("export: %v\n%s", err, text)
	}
	prof := e.writeProfile(t, "web", text)
	authFile := filepath.Join(e.dir, "alice.txt")
	if err := os.WriteFile(authFile, []byte("alice\n"+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The fake xdg-open, first on the user's PATH, in a folder the user
	// may write (each run keeps its pid and Chromium profile there).
	bin := filepath.Join(e.dir, "opener")
	if err := os.Mkdir(bin, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := chromium.WriteOpener(bin, ""); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := chromium.StopOpeners(bin); err != nil {
			t.Error(err)
		}
	}()
	if err := nstest.PingFails(ctx, lab.Client, serverTunnelIP); err != nil {
		t.Fatalf("the server's tunnel address answers without the tunnel: %v", err)
	}

	d := e.startDaemon(t, lab.Client)
	argv := e.asUser(uidUser, "connect", prof, "--auth-user-pass", authFile, "--json")
	for i, a := range argv {
		if a == "env" {
			argv = append(append(append([]string{}, argv[:i+1]...), "PATH="+bin+":/usr/bin:/bin"), argv[i+1:]...)
			break
		}
	}
	conn := nstest.Start(t, lab.Client, argv...)
	m, err := conn.WaitMatch(ctx, reWebAuthEvent)
	if err != nil {
		t.Fatalf("no web-auth event: %v\n%s\ndaemon:\n%s", err, conn.Output(), d.Output())
	}
	var ev struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(m[0]), &ev); err != nil || !strings.HasPrefix(ev.URL, "http://"+server+":8080/signin/") {
		t.Fatalf("web-auth event %s: %v", m[0], err)
	}

	// The front end ran the opener, as the user.
	var run chromium.OpenerRun
	for deadline := time.Now().Add(30 * time.Second); ; {
		runs, err := chromium.OpenerRuns(bin)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 {
			run = runs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sign-in page was not opened\n%s\ndaemon:\n%s", conn.Output(), d.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	uid, ppid := procStatus(t, run.PID)
	if uid != uidUser || ppid != conn.PID() {
		t.Fatalf("the opener (pid %d) ran as uid %d with parent %d; want uid %d, parent the cvpn connect front end %d (daemon %d)",
			run.PID, uid, ppid, uidUser, conn.PID(), d.PID())
	}

	var page *chromium.Browser
	if err := nstest.InNS(lab.Client, func() error {
		var err error
		page, err = chromium.Attach(ctx, run, nil)
		return err
	}); err != nil {
		t.Fatalf("attach to the opener's Chromium: %v", err)
	}
	defer page.Close()
	if err := page.WaitFor(ctx, `document.getElementById('signin')`); err != nil {
		t.Fatalf("the server's sign-in page did not load: %v", err)
	}
	fill := `(() => { const f = document.getElementById('signin'); f.password.value = PW; f.submit(); return true })()`
	if err := page.Eval(ctx, strings.Replace(fill, "PW", `'wrong'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitFor(ctx, `document.getElementById('error') && document.getElementById('error').innerText.includes('Wrong password')`); err != nil {
		t.Fatalf("a wrong password was not refused on the page: %v", err)
	}
	if out := conn.Output(); strings.Contains(out, `"state":"connected"`) || !strings.Contains(out, `"state":"waiting-for-browser"`) {
		t.Fatalf("after a wrong password: want still waiting for the browser\n%s", out)
	}
	if err := page.Eval(ctx, strings.Replace(fill, "PW", `'`+password+`'`, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("no connection after the web sign-in: %v\n%s\nserver:\n%s", err, conn.Output(), srv.Output())
	}
	if err := nstest.Ping(ctx, lab.Client, serverTunnelIP); err != nil {
		t.Fatalf("ping through the tunnel: %v", err)
	}
	if n := strings.Count(conn.Output(), `"event":"web-auth"`); n != 1 {
		t.Errorf("%d web-auth events, want one browser flow", n)
	}
	if runs, _ := chromium.OpenerRuns(bin); len(runs) != 1 {
		t.Errorf("%d opener runs, want one page", len(runs))
	}
	if strings.Contains(d.Output(), "opening the sign-in page") {
		t.Errorf("the daemon opened a browser:\n%s", d.Output())
	}
	if out, err := runAs(t, lab.Client, e.asUser(uidUser, "disconnect", "web")); err != nil {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	waitExit(t, conn, "exit status 0")
	page.Close()
	if err := chromium.StopOpeners(bin); err != nil {
		t.Error(err)
	}
	if err := d.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	nstest.AssertUnchanged(t, before)
}

// TestCRTextThroughTheDaemon: an OpenVPN 2.7 server defers carol's sign-in
// with a CR_TEXT question; the daemon asks the unprivileged front end that
// owns the connection (the same "challenge" question as an MFA code,
// answered here from the credentials file's third line), the server checks
// the answer, and traffic flows.
func TestCRTextThroughTheDaemon(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "setpriv", "ping")
	openvpnpeer.Require27(t)
	e := newEnv(t)
	lab := nstest.New(t, nstest.Options{})
	users := []openvpnpeer.User{{Name: "carol", Password: "pw", CRText: "Favourite colour?", CRAnswer: "deep blue"}}
	srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Version: openvpnpeer.V27,
		Users: users, NoClientCert: true})
	text, err := srv.ClientProfile(openvpnpeer.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prof := e.writeProfile(t, "cr", text)
	authFile := filepath.Join(e.dir, "carol.txt")
	if err := os.WriteFile(authFile, []byte("carol\npw\ndeep blue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := e.startDaemon(t, lab.Client)
	conn := nstest.Start(t, lab.Client, e.asUser(uidUser, "connect", prof, "--auth-user-pass", authFile, "--json")...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := conn.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("no connection after answering CR_TEXT: %v\n%s\ndaemon:\n%s\nserver:\n%s", err, conn.Output(), d.Output(), srv.Log())
	}
	if got := strings.Join(srv.AuthLog(), ","); got != "pending carol,cr-ok carol" {
		t.Errorf("server auth log %q: want the password accepted, the question pending, then the right answer", got)
	}
	if err := nstest.Ping(ctx, lab.Client, srv.TunnelIP()); err != nil {
		t.Fatalf("ping through the tunnel: %v", err)
	}
	if out, err := runAs(t, lab.Client, e.asUser(uidUser, "disconnect", "cr")); err != nil {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	waitExit(t, conn, "exit status 0")
}
