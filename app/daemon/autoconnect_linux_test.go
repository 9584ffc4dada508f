package daemon_test

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// withPolicy is argv running cvpn as uid with $CVPN_POLICY set.
func (e *e2eEnv) withPolicy(uid int, policy string, args ...string) []string {
	argv := e.asUser(uid, args...)
	for i, a := range argv {
		if a == "env" {
			return append(append(append([]string{}, argv[:i+1]...), "CVPN_POLICY="+policy), argv[i+1:]...)
		}
	}
	panic("no env in argv")
}

// TestAutoconnectManagedProfile: a real daemon started with a policy whose
// autoconnect names a root-only system profile connects it to a real
// `cvpn server` without any front end; users see it as managed and cannot
// remove or disconnect it; a policy change is picked up on restart and a
// bad policy stops the daemon naming the line and key.
func TestAutoconnectManagedProfile(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "setpriv")
	e := newEnv(t)
	lab := nstest.New(t, nstest.Options{})
	before := nstest.MustSnapshot(t, lab.Client)

	srvDir := t.TempDir()
	server := nstest.ServerIP.String()
	if out, err := nstest.Run(context.Background(), lab.Server, e.bin, "server", "init", srvDir, "--ecdsa",
		"--public-address", server, "--listen", server+":1194"); err != nil {
		t.Fatalf("server init: %v\n%s", err, out)
	}
	srv := nstest.Start(t, lab.Server, e.bin, "server", "run", "--config", filepath.Join(srvDir, "server.toml"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v\n%s", err, srv.Output())
	}

	// The system profile: root-only (0600), as IT installs a profile
	// carrying a key; the folder is world-readable.
	profiles := filepath.Join(e.dir, "profiles")
	if err := os.Mkdir(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(srvDir, "client1.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profiles, "corp.ovpn"), text, 0o600); err != nil {
		t.Fatal(err)
	}
	policyPath := filepath.Join(e.dir, "policy.toml")
	writePolicy := func(s string) {
		t.Helper()
		if err := os.WriteFile(policyPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon := func() *nstest.Proc {
		t.Helper()
		d := nstest.Start(t, lab.Client, "env", "CVPN_HOME="+e.daemonHome, "CVPN_SOCKET="+e.socket, e.bin, "daemon", "--policy", policyPath)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := d.WaitFor(ctx, "cvpn daemon listening"); err != nil {
			t.Fatalf("daemon did not start: %v\n%s", err, d.Output())
		}
		return d
	}
	stopDaemon := func(d *nstest.Proc) {
		t.Helper()
		if err := d.Stop(20 * time.Second); err != nil {
			t.Fatalf("daemon stop: %v\n%s", err, d.Output())
		}
	}
	user := func(args ...string) (string, error) {
		t.Helper()
		return runAs(t, lab.Client, e.withPolicy(uidUser, policyPath, args...))
	}

	// 1. No autoconnect: the daemon starts nothing.
	base := "profiles_dir = \"" + profiles + "\"\nallow_user_profiles = false\n"
	writePolicy(base)
	d := startDaemon()
	time.Sleep(time.Second)
	if out, err := user("status"); err != nil || !strings.Contains(out, "No connections.") {
		t.Fatalf("status without autoconnect: %v\n%s", err, out)
	}
	// A user connects the root-only system profile by name: the CLI cannot
	// read it, the daemon does.
	conn := nstest.Start(t, lab.Client, e.withPolicy(uidUser, policyPath, "connect", "corp", "--json")...)
	ctxc, cancelc := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelc()
	if err := conn.WaitFor(ctxc, `"state":"connected"`); err != nil {
		t.Fatalf("user connect of a system profile: %v\n%s\ndaemon:\n%s", err, conn.Output(), d.Output())
	}
	if out, err := user("disconnect", "corp"); err != nil {
		t.Fatalf("owner's disconnect: %v\n%s", err, out)
	}
	waitExit(t, conn, "exit status 0")
	stopDaemon(d)

	// 2. The policy now autoconnects corp: picked up on restart, connected
	// with no front end at all.
	writePolicy(base + "autoconnect = [\"corp\"]\n")
	started := time.Now()
	d = startDaemon()
	deadline := time.Now().Add(60 * time.Second)
	var status string
	for {
		out, err := user("status", "--json")
		if err == nil && strings.Contains(out, `"state": "connected"`) && strings.Contains(out, `"managed": true`) &&
			strings.Contains(out, `"tunnel_ipv4": "10.100.`) {
			status = out
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("corp not connected by the daemon within 60 s: %v\n%s\ndaemon:\n%s\nserver:\n%s", err, out, d.Output(), srv.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("daemon start -> autoconnect profile connected (seen by a user's status): %s", time.Since(started).Round(time.Millisecond))
	if !strings.Contains(status, `"name": "corp"`) || !strings.Contains(status, `"owner_uid": 0`) {
		t.Errorf("status: %s", status)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if out, err := nstest.Run(ctx2, lab.Server, e.bin, "server", "connections", "--config", filepath.Join(srvDir, "server.toml")); err != nil || !strings.Contains(out, "client1") {
		t.Errorf("the server does not list the daemon's connection: %v\n%s", err, out)
	}

	// 3. What a user sees and may do.
	out, err := user("profile", "list")
	if err != nil || !strings.Contains(out, "corp") || !strings.Contains(out, "managed") {
		t.Errorf("profile list: %v\n%s", err, out)
	}
	out, err = user("profile", "remove", "corp")
	if err == nil || !strings.Contains(out, `"corp" is a system profile`) || !strings.Contains(out, "cannot be imported over, renamed or removed") {
		t.Errorf("user removing a managed profile: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(profiles, "corp.ovpn")); err != nil {
		t.Errorf("system profile gone: %v", err)
	}
	out, err = user("profile", "import", filepath.Join(e.dir, "nothing.ovpn"))
	if err == nil || !strings.Contains(out, "allow_user_profiles = false") {
		t.Errorf("user import under allow_user_profiles = false: %v\n%s", err, out)
	}
	out, err = user("disconnect", "corp")
	if err == nil || !strings.Contains(out, "connection corp is managed by the administrator") {
		t.Errorf("user disconnecting a managed connection: %v\n%s", err, out)
	}
	if out, err := user("status"); err != nil || !strings.Contains(out, "managed (policy)") {
		t.Errorf("status table: %v\n%s", err, out)
	}

	// The daemon's network monitor sees a link come up (a veth pair made
	// and removed here); root's bundle then says so.
	for _, argv := range [][]string{
		{"ip", "link", "add", "diag0", "type", "veth", "peer", "name", "diag1"},
		{"ip", "link", "set", "diag0", "up"},
		{"ip", "link", "set", "diag1", "up"},
	} {
		if out, err := nstest.Run(ctx2, lab.Client, argv...); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	ctx4, cancel4 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel4()
	if err := d.WaitFor(ctx4, "network change"); err != nil {
		t.Errorf("the daemon's network monitor saw no change: %v", err)
	}
	if out, err := nstest.Run(ctx2, lab.Client, "ip", "link", "del", "diag0"); err != nil {
		t.Fatalf("ip link del: %v\n%s", err, out)
	}

	// Diagnostics: root's bundle holds the managed connection's log and
	// state, a user's does not (it is not theirs); neither holds a line of
	// the profile's private or tls-crypt key.
	secrets := keyLines(t, string(text))
	userZip := filepath.Join(e.dir, fmt.Sprintf("home-%d", uidUser), "diag.zip")
	if out, err := user("diagnose", "--out", userZip); err != nil || !strings.Contains(out, "only your own connections") {
		t.Errorf("user diagnose: %v\n%s", err, out)
	}
	rootZip := filepath.Join(e.dir, "root-diag.zip")
	if out, err := runAs(t, lab.Client, []string{"env", "CVPN_HOME=" + e.daemonHome, "CVPN_SOCKET=" + e.socket, "CVPN_POLICY=" + policyPath,
		e.bin, "diagnose", "--out", rootZip}); err != nil {
		t.Errorf("root diagnose: %v\n%s", err, out)
	}
	userFiles, rootFiles := readZip(t, userZip), readZip(t, rootZip)
	t.Logf("root's bundle: %v", names(rootFiles))
	if nm := rootFiles["daemon/network-monitor.txt"]; !strings.Contains(nm, "link=true") {
		t.Errorf("root's bundle lacks what the network monitor saw:\n%s", nm)
	}
	if !hasFile(rootFiles, "daemon/logs/corp-") || !hasFile(rootFiles, "daemon/sessions/corp/") || !strings.Contains(rootFiles["daemon/status.json"], `"name": "corp"`) ||
		!strings.Contains(rootFiles["daemon/events.jsonl"], `"state":"connected"`) {
		t.Errorf("root's bundle lacks the managed connection: %v", names(rootFiles))
	}
	// The user's bundle: their own earlier connection of corp (its log
	// segment), not the daemon's managed one.
	userLog := ""
	for n, body := range userFiles {
		if strings.HasPrefix(n, "daemon/logs/corp-") {
			userLog += body
		}
	}
	if strings.Contains(userLog, `owner="uid 0"`) || !strings.Contains(userLog, fmt.Sprintf(`owner="uid %d `, uidUser)) ||
		strings.Contains(userFiles["daemon/status.json"], "corp") || strings.Contains(userFiles["daemon/events.jsonl"], `"owner":"uid 0"`) ||
		!strings.Contains(userFiles["profiles.json"], `"managed": true`) {
		t.Errorf("user's bundle: %v\nstatus %s\nlog:\n%s", names(userFiles), userFiles["daemon/status.json"], userLog)
	}
	rootLog := ""
	for n, body := range rootFiles {
		if strings.HasPrefix(n, "daemon/logs/corp-") {
			rootLog += body
		}
	}
	if !strings.Contains(rootLog, `owner="uid 0"`) {
		t.Errorf("root's bundle lacks the managed connection's log:\n%s", rootLog)
	}
	for _, files := range []map[string]string{userFiles, rootFiles} {
		for n, body := range files {
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("%s holds key material %q", n, s)
				}
			}
		}
	}
	stopDaemon(d)

	// 4. A bad policy stops the daemon with the file, line and key.
	writePolicy(base + "autoconect = [\"corp\"]\n")
	ctx3, cancel3 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel3()
	out, err = nstest.Run(ctx3, lab.Client, "env", "CVPN_HOME="+e.daemonHome, "CVPN_SOCKET="+e.socket, e.bin, "daemon", "--policy", policyPath)
	if err == nil || !strings.Contains(out, policyPath+":3: autoconect: unknown key") {
		t.Errorf("daemon with a bad policy: %v\n%s", err, out)
	}
	nstest.AssertUnchanged(t, before)
}

func readZip(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("bundle %s: %v", path, err)
	}
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

func hasFile(files map[string]string, prefix string) bool {
	for n := range files {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func names(files map[string]string) []string {
	var out []string
	for n := range files {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// keyLines are the base64 lines of the profile's private key and static
// (tls-crypt) key.
func keyLines(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`(?s)-----BEGIN [A-Z ]*(?:PRIVATE KEY|OpenVPN Static key V1)-----(.*?)-----END`).FindAllStringSubmatch(text, -1) {
		for _, l := range strings.Fields(m[1]) {
			if len(l) >= 16 {
				out = append(out, l)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the profile carries no key")
	}
	return out
}

// TestDiagnoseHoldsNoSecretOfARealSession: a user connects with a password
// and a client key through a real daemon to a real `cvpn server`; an
// autoconnect profile that needs a password is left for a user (the daemon
// never waits); the bundles of the user and of root, written while
// connected and after, hold neither the password nor a line of a key.
func TestDiagnoseHoldsNoSecretOfARealSession(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "setpriv")
	e := newEnv(t)
	lab := nstest.New(t, nstest.Options{})
	before := nstest.MustSnapshot(t, lab.Client)

	const password = "Corr3ct-h0rse-battery"
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
	cfg = []byte(strings.Replace(string(cfg), `users_file = ""`, `users_file = "users.toml"`, 1))
	users := fmt.Sprintf("[[user]]\nname = \"alice\"\npassword_bcrypt = %q\n", hash)
	if err := os.WriteFile(filepath.Join(srvDir, "users.toml"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := nstest.Start(t, lab.Server, e.bin, "server", "run", "--config", cfgPath)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v\n%s", err, srv.Output())
	}
	text, err := nstest.Run(ctx, lab.Server, e.bin, "server", "export-client-config", "--config", cfgPath)
	if err != nil || !strings.Contains(text, "auth-user-pass") {
		t.Fatalf("export: %v\n%s", err, text)
	}
	secrets := append(keyLines(t, text), password)

	profiles := filepath.Join(e.dir, "profiles")
	if err := os.Mkdir(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profiles, "pw.ovpn"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	policyPath := filepath.Join(e.dir, "policy.toml")
	if err := os.WriteFile(policyPath, []byte("profiles_dir = \""+profiles+"\"\nautoconnect = [\"pw\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	userProfile := e.writeProfile(t, "mine", text)
	authFile := filepath.Join(e.dir, "auth.txt")
	if err := os.WriteFile(authFile, []byte("alice\n"+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	d := nstest.Start(t, lab.Client, "env", "CVPN_HOME="+e.daemonHome, "CVPN_SOCKET="+e.socket, e.bin, "daemon", "--policy", policyPath)
	ctxD, cancelD := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelD()
	if err := d.WaitFor(ctxD, "autoconnect: the profile needs a user to sign in"); err != nil {
		t.Fatalf("the daemon did not leave the password profile for a user: %v\n%s", err, d.Output())
	}
	conn := nstest.Start(t, lab.Client, e.withPolicy(uidUser, policyPath, "connect", userProfile, "--auth-user-pass", authFile, "--json")...)
	waitCtx, cancelW := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelW()
	if err := conn.WaitFor(waitCtx, `"state":"connected"`); err != nil {
		t.Fatalf("password connect: %v\n%s\nserver:\n%s", err, conn.Output(), srv.Output())
	}
	bundle := func(name string, root bool) map[string]string {
		t.Helper()
		path := filepath.Join(e.dir, fmt.Sprintf("home-%d", uidUser), name)
		argv := e.withPolicy(uidUser, policyPath, "diagnose", "--out", path)
		if root {
			path = filepath.Join(e.dir, name)
			argv = []string{"env", "CVPN_HOME=" + e.daemonHome, "CVPN_SOCKET=" + e.socket, "CVPN_POLICY=" + policyPath, e.bin, "diagnose", "--out", path}
		}
		if out, err := runAs(t, lab.Client, argv); err != nil {
			t.Fatalf("diagnose: %v\n%s", err, out)
		}
		return readZip(t, path)
	}
	check := func(files map[string]string) {
		t.Helper()
		for n, body := range files {
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("%s holds the secret %q", n, s)
				}
			}
		}
	}
	connected := bundle("connected.zip", false)
	if !hasFile(connected, "daemon/logs/mine-") || !strings.Contains(connected["daemon/status.json"], `"name": "mine"`) {
		t.Errorf("user's bundle while connected lacks the connection: %v", names(connected))
	}
	check(connected)
	check(bundle("root-connected.zip", true))
	if out, err := runAs(t, lab.Client, e.withPolicy(uidUser, policyPath, "disconnect", "mine")); err != nil {
		t.Fatalf("disconnect: %v\n%s", err, out)
	}
	waitExit(t, conn, "exit status 0")
	check(bundle("after.zip", false))
	check(bundle("root-after.zip", true))
	if err := d.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Without the daemon, root's bundle still holds the logs, redacted.
	offline := bundle("root-offline.zip", true)
	if !hasFile(offline, "logs/mine-") || !strings.Contains(offline["README.txt"], "daemon (connections") {
		t.Errorf("root's bundle without the daemon: %v\n%s", names(offline), offline["README.txt"])
	}
	check(offline)
	nstest.AssertUnchanged(t, before)
}
