package deb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

const (
	testVersion    = "v0.0.0-debtest" // main.version of the test build
	testDebVersion = "0.0.0.debtest"  // what deb.sh makes of it
	nobody         = 65534
	unitPath       = "/usr/lib/systemd/system/cvpn.service"
	wantsLink      = "/etc/systemd/system/multi-user.target.wants/cvpn.service"
	// The reference server's template unit and the instance this test
	// runs (its folder is made by the test, as an administrator would).
	serverUnitPath  = "/usr/lib/systemd/system/cvpn-server@.service"
	serverInstance  = "debtest"
	serverDir       = "/etc/cvpn/server/" + serverInstance
	serverWantsLink = "/etc/systemd/system/multi-user.target.wants/cvpn-server@" + serverInstance + ".service"
	serverLogDir    = "/var/log/cvpn-server"
)

// leftovers are the paths the package, its daemon or its server units may
// create; none may exist after a purge.
var leftovers = []string{"/usr/bin/cvpn", unitPath, wantsLink, "/var/lib/cvpn", "/run/cvpn",
	serverUnitPath, serverWantsLink, serverLogDir}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// installedVersion is the installed version of package cvpn, or "".
func installedVersion() string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status} ${Version}", "cvpn").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 4 && f[2] == "installed" {
		return f[3]
	}
	if len(f) == 4 && f[2] == "config-files" {
		return "config-files " + f[3]
	}
	return ""
}

// requireCleanMachine skips unless nothing of cvpn is installed; a
// leftover of an earlier run of this test is purged first.
func requireCleanMachine(t *testing.T) {
	t.Helper()
	switch v := installedVersion(); {
	case v == testDebVersion || v == "config-files "+testDebVersion:
		run(t, "dpkg", "--purge", "cvpn")
	case v != "":
		t.Skipf("package cvpn %s is installed on this machine; not replacing it", v)
	}
	for _, p := range append(leftovers, serverDir) {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists and is not from this test's package; not overwriting it", p)
		}
	}
}

// makeServerDir creates serverDir and its missing parents and removes
// what it created when the test ends.
func makeServerDir(t *testing.T) {
	t.Helper()
	var created []string
	for d := serverDir; d != "/etc"; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		created = append(created, d)
	}
	t.Cleanup(func() {
		for _, d := range created { // deepest first
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	if err := os.MkdirAll(serverDir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// unitArgv is argv running a unit's ExecStart (with %i replaced by
// instance) under the unit's privilege limits, applied with setpriv: the
// capability bounding set (so what the process does proves the listed
// capabilities are enough), no_new_privs and the umask.
func unitArgv(t *testing.T, svc map[string]string, instance string) []string {
	t.Helper()
	bset := []string{"-all"}
	for _, c := range strings.Fields(svc["CapabilityBoundingSet"]) {
		bset = append(bset, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
	}
	if len(bset) == 1 {
		t.Fatal("the unit has no CapabilityBoundingSet")
	}
	if svc["UMask"] == "" {
		t.Fatal("the unit has no UMask")
	}
	argv := []string{"setpriv", "--bounding-set=" + strings.Join(bset, ",")}
	if svc["NoNewPrivileges"] == "yes" {
		argv = append(argv, "--no-new-privs")
	}
	argv = append(argv, "sh", "-c", "umask "+svc["UMask"]+" && exec \"$0\" \"$@\"")
	return append(argv, strings.Fields(strings.ReplaceAll(svc["ExecStart"], "%i", instance))...)
}

// unitService reads the [Service] directives of a unit file.
func unitService(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	inService := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inService = line == "[Service]"
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && inService && !strings.HasPrefix(line, "#") {
			if k == "Environment" && m[k] != "" {
				v = m[k] + " " + v
			}
			m[k] = v
		}
	}
	return m
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

// asNobody is argv running /usr/bin/cvpn as the unprivileged user nobody
// with its own home (the default socket, as installed).
func asNobody(home string, args ...string) []string {
	return append([]string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		"env", "-u", "CVPN_SOCKET", "CVPN_HOME=" + home, "HOME=" + home, "/usr/bin/cvpn"}, args...)
}

func TestDebInstallConnectPurge(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv("CVPN_DEBTEST") != "1" {
		t.Skip("installs the cvpn package into this machine: runs with CI=true or CVPN_DEBTEST=1")
	}
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "dpkg", "dpkg-query", "bash", "setpriv", "ping")
	requireCleanMachine(t)

	// Build the package for this machine with the real build script.
	out := t.TempDir()
	build := exec.Command("bash", filepath.Join(fixtures.Root(), "packaging", "deb.sh"), "--arch", runtime.GOARCH, "--no-gui", out)
	build.Env = append(os.Environ(), "VERSION="+testVersion)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deb.sh: %v\n%s", err, b)
	}
	deb := filepath.Join(out, fmt.Sprintf("cvpn_%s_%s.deb", testDebVersion, runtime.GOARCH))

	t.Cleanup(func() {
		if installedVersion() != "" {
			if b, err := exec.Command("dpkg", "--purge", "cvpn").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg --purge cvpn: %v\n%s", err, b)
			}
		}
		os.RemoveAll("/run/cvpn") // made by this test in place of systemd
		for _, p := range leftovers {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("cleanup: %s is left after purge", p)
			}
		}
	})
	run(t, "dpkg", "-i", deb)

	// Files, modes, ownership by the package, version.
	if got := installedVersion(); got != testDebVersion {
		t.Fatalf("installed version %q, want %q", got, testDebVersion)
	}
	if m := mode(t, "/usr/bin/cvpn"); m.Perm() != 0o755 || !m.IsRegular() {
		t.Errorf("/usr/bin/cvpn mode %v", m)
	}
	unitSrc, err := os.ReadFile(filepath.Join(fixtures.Root(), "packaging", "linux", "cvpn.service"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(unitPath); err != nil || string(got) != string(unitSrc) {
		t.Errorf("%s differs from packaging/linux/cvpn.service (%v)", unitPath, err)
	}
	serverUnitSrc, err := os.ReadFile(filepath.Join(fixtures.Root(), "packaging", "linux", "cvpn-server@.service"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(serverUnitPath); err != nil || string(got) != string(serverUnitSrc) {
		t.Errorf("%s differs from packaging/linux/cvpn-server@.service (%v)", serverUnitPath, err)
	}
	listed := run(t, "dpkg", "-L", "cvpn")
	for _, p := range []string{"/usr/bin/cvpn", unitPath, serverUnitPath} {
		if !strings.Contains(listed, p+"\n") {
			t.Errorf("dpkg -L cvpn does not list %s:\n%s", p, listed)
		}
	}
	if v := run(t, "/usr/bin/cvpn", "version"); !strings.Contains(v, testVersion) {
		t.Errorf("cvpn version = %q, want it to contain %s", v, testVersion)
	}
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		if b, err := exec.Command(analyze, "verify", "--man=no", unitPath).CombinedOutput(); err != nil || len(strings.TrimSpace(string(b))) != 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, b)
		}
		// A template is verified as an instance: a copy with its name.
		inst := filepath.Join(t.TempDir(), "cvpn-server@"+serverInstance+".service")
		if err := os.WriteFile(inst, serverUnitSrc, 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(analyze, "verify", "--man=no", inst).CombinedOutput(); err != nil || len(strings.TrimSpace(string(b))) != 0 {
			t.Errorf("systemd-analyze verify %s as an instance: %v\n%s", serverUnitPath, err, b)
		}
	} else {
		t.Log("systemd-analyze not installed: installed unit not linted")
	}
	// postinst enables the unit; without a running systemd (containers)
	// systemctl does it offline.
	if _, err := exec.LookPath("systemctl"); err == nil {
		if target, err := os.Readlink(wantsLink); err != nil || !strings.HasSuffix(target, "/cvpn.service") {
			t.Errorf("postinst did not enable cvpn.service: %s -> %q (%v)", wantsLink, target, err)
		}
	}
	// The server template is installed disabled: no instance is enabled.
	if links, _ := filepath.Glob("/etc/systemd/system/*.wants/cvpn-server@*"); len(links) != 0 {
		t.Errorf("postinst enabled server instances: %q", links)
	}

	// Start the daemon the way systemd would, in a lab's client namespace.
	svc := unitService(t, unitPath)
	if svc["Environment"] != "" || svc["EnvironmentFile"] != "" {
		t.Fatalf("the unit sets an environment (%q %q): pass it to the daemon here", svc["Environment"], svc["EnvironmentFile"])
	}
	dirs := []struct{ path, mode string }{
		{"/run/" + svc["RuntimeDirectory"], svc["RuntimeDirectoryMode"]},
		{"/var/lib/" + svc["StateDirectory"], svc["StateDirectoryMode"]},
	}
	for _, d := range dirs {
		var m uint32
		if _, err := fmt.Sscanf(d.mode, "%o", &m); err != nil || d.path == "/run/" || d.path == "/var/lib/" {
			t.Fatalf("unit directory %q mode %q: %v", d.path, d.mode, err)
		}
		if err := os.MkdirAll(d.path, fs.FileMode(m)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.path, fs.FileMode(m)); err != nil {
			t.Fatal(err)
		}
	}
	lab := nstest.New(t, nstest.Options{LAN: true, ResolvConf: "nameserver 198.18.0.53\n"})
	before := nstest.MustSnapshot(t, lab.Client)
	daemon := nstest.Start(t, lab.Client, unitArgv(t, svc, "")...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := daemon.WaitFor(ctx, "cvpn daemon listening"); err != nil {
		t.Fatalf("daemon did not start: %v", err)
	}
	if m := mode(t, "/run/cvpn/cvpn.sock"); m&fs.ModeSocket == 0 || m.Perm() != 0o666 {
		t.Errorf("/run/cvpn/cvpn.sock mode %v, want a 0666 socket", m)
	}
	if m := mode(t, "/var/lib/cvpn"); m.Perm() != 0o700 {
		t.Errorf("/var/lib/cvpn mode %v, want 0700", m)
	}

	// The reference server from the same package, in the server
	// namespace, as the instance cvpn-server@debtest would run it: the
	// folder from cvpn server init (the README's steps), then the
	// template's ExecStart with %i replaced, under its privilege limits.
	makeServerDir(t)
	srvDir := serverDir
	run(t, "/usr/bin/cvpn", "server", "init", srvDir, "--public-address", nstest.ServerIP.String(), "--listen", nstest.ServerIP.String()+":1194", "--ecdsa")
	cfgPath := filepath.Join(srvDir, "server.toml")
	ssvc := unitService(t, serverUnitPath)
	if ssvc["Environment"] != "" || ssvc["EnvironmentFile"] != "" {
		t.Fatalf("the server unit sets an environment (%q %q): pass it to the server here", ssvc["Environment"], ssvc["EnvironmentFile"])
	}
	if want := "--config " + cfgPath; !strings.Contains(strings.ReplaceAll(ssvc["ExecStart"], "%i", serverInstance), want) {
		t.Fatalf("cvpn-server@%s ExecStart %q does not read %s, the file cvpn server init %s writes", serverInstance, ssvc["ExecStart"], cfgPath, srvDir)
	}
	var logMode uint32
	if _, err := fmt.Sscanf(ssvc["LogsDirectoryMode"], "%o", &logMode); err != nil || "/var/log/"+ssvc["LogsDirectory"] != serverLogDir {
		t.Fatalf("server unit LogsDirectory %q mode %q: %v", ssvc["LogsDirectory"], ssvc["LogsDirectoryMode"], err)
	}
	if err := os.MkdirAll(serverLogDir, fs.FileMode(logMode)); err != nil {
		t.Fatal(err)
	}
	// Enabled as an administrator would (offline without a running
	// systemd): removing the package must disable it.
	if _, err := exec.LookPath("systemctl"); err == nil {
		run(t, "systemctl", "enable", "cvpn-server@"+serverInstance+".service")
		if target, err := os.Readlink(serverWantsLink); err != nil || !strings.HasSuffix(target, "/cvpn-server@.service") {
			t.Errorf("systemctl enable cvpn-server@%s: %s -> %q (%v)", serverInstance, serverWantsLink, target, err)
		}
	}
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	split := strings.Replace(string(cfg), "split_tunnel = false", "split_tunnel = true", 1)
	split = strings.Replace(split, "dns_servers = []", `dns_servers = ["10.100.0.53"]`, 1)
	split += fmt.Sprintf("\n[[routes]]\ndestination = %q\n", nstest.LANPrefix.String())
	if !strings.Contains(split, "split_tunnel = true") || !strings.Contains(split, "10.100.0.53") {
		t.Fatalf("server init wrote no split_tunnel or dns_servers line:\n%s", cfg)
	}
	if err := os.WriteFile(cfgPath, []byte(split), 0o600); err != nil {
		t.Fatal(err)
	}
	server := nstest.Start(t, lab.Server, unitArgv(t, ssvc, serverInstance)...)
	if err := server.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v", err)
	}

	// An unprivileged user connects through the daemon.
	home := t.TempDir()
	for _, p := range []string{filepath.Dir(home), home} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(home, "lab.ovpn")
	prof, err := os.ReadFile(filepath.Join(srvDir, "client1.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(profile, prof, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(profile, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	conn := nstest.Start(t, lab.Client, asNobody(home, "connect", profile, "--json")...)
	if err := conn.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("no connection through the installed daemon: %v\ndaemon:\n%s\nserver:\n%s", err, daemon.Output(), server.Output())
	}
	if err := nstest.Ping(ctx, lab.Client, nstest.LANHostIP); err != nil {
		t.Fatalf("ping the LAN host through the tunnel: %v", err)
	}
	// DNS: the namespace's resolv.conf (bind-mounted over /etc/resolv.conf
	// for the daemon) names the pushed server while connected.
	if rc, err := os.ReadFile(nstest.ResolvConfPath(lab.Client)); err != nil || !strings.Contains(string(rc), "nameserver 10.100.0.53") {
		t.Errorf("resolv.conf while connected: %v\n%s", err, rc)
	}
	status, err := nstest.Run(ctx, lab.Client, asNobody(home, "status")...)
	if err != nil || !strings.Contains(status, "connected") || !strings.Contains(status, "nobody") {
		t.Fatalf("cvpn status as nobody: %v\n%s", err, status)
	}
	t.Logf("cvpn status as nobody:\n%s", status)

	// systemctl stop cvpn-server@debtest with a client connected: SIGTERM;
	// the server tells the client to reconnect, releases its admin socket
	// and exits 0 well within the unit's TimeoutStopSec.
	stopStart := time.Now()
	if err := server.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-server.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("cvpn-server@%s still running 5s after SIGTERM:\n%s", serverInstance, server.Output())
	}
	t.Logf("cvpn-server@%s stopped %s after SIGTERM with a client connected", serverInstance, time.Since(stopStart).Round(time.Millisecond))
	if server.Err() != nil {
		t.Errorf("cvpn-server@%s after SIGTERM: %s, want exit status 0\n%s", serverInstance, server.ExitStatus(), server.Output())
	}
	if _, err := os.Lstat(filepath.Join(srvDir, "admin.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("admin socket left after the server stopped: %v", err)
	}
	if clog, err := os.ReadFile(filepath.Join(srvDir, "connections.log")); err != nil || !strings.Contains(string(clog), "client1") {
		t.Errorf("no connection of client1 in the instance's connection log: %v\n%s", err, clog)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	err = conn.WaitFor(rctx, "server shutting down")
	rcancel()
	if err != nil {
		t.Errorf("the client was not told RESTART when the server stopped: %v", err)
	}
	if out, err := nstest.Run(ctx, lab.Client, asNobody(home, "disconnect", "--all")...); err != nil {
		t.Fatalf("cvpn disconnect --all as nobody: %v\n%s", err, out)
	}
	select {
	case <-conn.Done():
	case <-ctx.Done():
		t.Fatalf("cvpn connect did not exit after disconnect:\n%s", conn.Output())
	}
	if conn.Err() != nil {
		t.Errorf("cvpn connect: %s, want exit status 0\n%s", conn.ExitStatus(), conn.Output())
	}

	// systemd's stop: SIGTERM, then the daemon removes its socket.
	if err := daemon.Stop(30 * time.Second); err != nil {
		t.Errorf("daemon stop: %v", err)
	}
	if daemon.ExitStatus() != "exit status 0" {
		t.Errorf("daemon after SIGTERM: %s\n%s", daemon.ExitStatus(), daemon.Output())
	}
	if _, err := os.Lstat("/run/cvpn/cvpn.sock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after the daemon stopped: %v", err)
	}
	nstest.AssertUnchanged(t, before)

	// Remove keeps the state (Debian policy), purge deletes it.
	run(t, "dpkg", "--remove", "cvpn")
	for _, p := range []string{"/usr/bin/cvpn", unitPath, wantsLink, serverUnitPath, serverWantsLink} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left after dpkg --remove", p)
		}
	}
	if _, err := os.Stat("/var/lib/cvpn"); err != nil {
		t.Errorf("dpkg --remove deleted the daemon state: %v", err)
	}
	run(t, "dpkg", "--purge", "cvpn")
	for _, p := range leftovers {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left after dpkg --purge", p)
		}
	}
	if v := installedVersion(); v != "" {
		t.Errorf("dpkg still knows cvpn after purge: %s", v)
	}
}
