package checks

import (
	"bufio"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/app/gui/assets"
	"github.com/cvpn/cvpn/packaging/iconfmt"
)

// pkgDir is packaging/ (the tests run in packaging/checks).
const pkgDir = ".."

func requireTool(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" && runtime.GOOS == "linux" {
			t.Fatalf("%s not found; CI must have it (%s)", name, why)
		}
		t.Skipf("%s not found (%s)", name, why)
	}
	return p
}

// unitDirectives reads a systemd unit into section -> key -> values.
func unitDirectives(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a directive: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestSystemdUnitHardening(t *testing.T) {
	u := unitDirectives(t, filepath.Join(pkgDir, "linux", "cvpn.service"))
	want := map[string]string{
		"ExecStart":               "/usr/bin/cvpn daemon",
		"Restart":                 "on-failure",
		"RuntimeDirectory":        "cvpn",
		"RuntimeDirectoryMode":    "0755",
		"StateDirectory":          "cvpn",
		"StateDirectoryMode":      "0700",
		"CapabilityBoundingSet":   "CAP_NET_ADMIN",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ReadWritePaths":          "-/etc/resolv.conf",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"DeviceAllow":             "/dev/net/tun rw",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"KillSignal":              "SIGTERM",
	}
	for k, v := range want {
		if got := u["Service"][k]; len(got) != 1 || got[0] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if got := u["Install"]["WantedBy"]; !reflect.DeepEqual(got, []string{"multi-user.target"}) {
		t.Errorf("[Install] WantedBy = %q", got)
	}
	// The socket path the CLI and GUI use must be inside RuntimeDirectory.
	if !strings.HasPrefix("/run/cvpn/cvpn.sock", "/run/"+u["Service"]["RuntimeDirectory"][0]+"/") {
		t.Error("RuntimeDirectory does not hold /run/cvpn/cvpn.sock")
	}
}

// TestServerUnitHardening checks the reference server's template unit:
// the ExecStart that `cvpn server init /etc/cvpn/server/NAME` matches, the
// daemon's confinement, and writable paths only where the server writes.
func TestServerUnitHardening(t *testing.T) {
	u := unitDirectives(t, filepath.Join(pkgDir, "linux", "cvpn-server@.service"))
	want := map[string][]string{
		"ExecStart":               {"/usr/bin/cvpn server run --config /etc/cvpn/server/%i/server.toml"},
		"Restart":                 {"on-failure"},
		"CapabilityBoundingSet":   {"CAP_NET_ADMIN CAP_NET_BIND_SERVICE"},
		"NoNewPrivileges":         {"yes"},
		"ProtectSystem":           {"strict"},
		"ReadWritePaths":          {"-/etc/cvpn/server", "-/proc/sys/net/ipv4/ip_forward"},
		"LogsDirectory":           {"cvpn-server"},
		"ProtectHome":             {"yes"},
		"PrivateTmp":              {"yes"},
		"ProtectKernelTunables":   {"yes"},
		"DeviceAllow":             {"/dev/net/tun rw"},
		"DevicePolicy":            {"closed"},
		"RestrictAddressFamilies": {"AF_UNIX AF_INET AF_INET6 AF_NETLINK"},
		"KillSignal":              {"SIGTERM"},
		"KillMode":                {"mixed"},
	}
	for k, v := range want {
		if got := u["Service"][k]; !reflect.DeepEqual(got, v) {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if got := u["Install"]["WantedBy"]; !reflect.DeepEqual(got, []string{"multi-user.target"}) {
		t.Errorf("[Install] WantedBy = %q", got)
	}
}

// verifyUnit runs systemd-analyze verify on a copy of the unit whose
// ExecStart names exe, and returns its output. A template (name ending in
// "@.service") is verified as the instance "lab".
func verifyUnit(t *testing.T, analyze, name, unitText, exe string) (string, error) {
	dir := t.TempDir()
	text := strings.ReplaceAll(unitText, "ExecStart=/usr/bin/cvpn ", "ExecStart="+exe+" ")
	p := filepath.Join(dir, strings.Replace(name, "@.service", "@lab.service", 1))
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", "--man=no", p)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := requireTool(t, "systemd-analyze", "lints the systemd units")
	// /usr/bin/cvpn is not installed here: point ExecStart at an executable
	// that exists (internal/e2e/deb verifies the installed unit as it is).
	exe, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cvpn.service", "cvpn-server@.service"} {
		text, err := os.ReadFile(filepath.Join(pkgDir, "linux", name))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := verifyUnit(t, analyze, name, string(text), exe); err != nil || out != "" {
			t.Fatalf("systemd-analyze verify %s: %v\n%s", name, err, out)
		}
		// The lint is live: a misspelt directive is reported.
		bad := strings.Replace(string(text), "PrivateTmp=yes", "PrivateTemp=yes", 1)
		if out, _ := verifyUnit(t, analyze, name, bad, exe); !strings.Contains(out, "PrivateTemp") {
			t.Fatalf("systemd-analyze verify %s did not report a misspelt directive: %q", name, out)
		}
	}
}

func TestDesktopEntry(t *testing.T) {
	path := filepath.Join(pkgDir, "linux", "io.github.cvpn.desktop")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nExec=cvpn-gui\n", "\nIcon=io.github.cvpn\n", "\nType=Application\n", "\nCategories=Network;\n"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("%s lacks %q", path, strings.TrimSpace(want))
		}
	}
	// The icon name and the files the cvpn-gui package installs agree.
	nf, err := os.ReadFile(filepath.Join(pkgDir, "linux", "nfpm-cvpn-gui.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"/usr/share/icons/hicolor/256x256/apps/io.github.cvpn.png", "/usr/share/icons/hicolor/scalable/apps/io.github.cvpn.svg",
		"/usr/share/applications/io.github.cvpn.desktop", "/usr/bin/cvpn-gui"} {
		if !strings.Contains(string(nf), "dst: "+dst+"\n") {
			t.Errorf("nfpm-cvpn-gui.yaml does not install %s", dst)
		}
	}
	validate := requireTool(t, "desktop-file-validate", "Debian desktop-file-utils, in the Makefile's DEB_PACKAGES")
	if out, err := exec.Command(validate, path).CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("desktop-file-validate: %v\n%s", err, out)
	}
	// The validator is live: a missing Name is an error.
	bad := filepath.Join(t.TempDir(), "io.github.cvpn.desktop")
	os.WriteFile(bad, []byte(strings.Replace(string(text), "\nName=cvpn\n", "\n", 1)), 0o644)
	if out, err := exec.Command(validate, bad).CombinedOutput(); err == nil || !strings.Contains(string(out), "Name") {
		t.Fatalf("desktop-file-validate accepted an entry without Name: %v %s", err, out)
	}
}

// pythonPlist loads path with python3's plistlib (the reference reader)
// and returns its repr, or skips when python3 is missing.
func pythonPlist(t *testing.T, path string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Logf("python3 not found: plist checked by the Go reader only")
		return ""
	}
	out, err := exec.Command(py, "-c", "import plistlib,sys; d=plistlib.load(open(sys.argv[1],'rb')); print(sorted(d))", path).CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib rejects %s: %v\n%s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestLaunchDaemonPlist(t *testing.T) {
	path := filepath.Join(pkgDir, "macos", "io.github.cvpn.daemon.plist")
	v, err := parsePlist(path)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("top level is %T, want a dict", v)
	}
	want := map[string]any{
		"Label":            "io.github.cvpn.daemon",
		"ProgramArguments": []any{"/usr/local/bin/cvpn", "daemon"},
		"RunAtLoad":        true,
		"KeepAlive":        map[string]any{"SuccessfulExit": false},
		"ExitTimeOut":      int64(30),
	}
	for k, w := range want {
		if !reflect.DeepEqual(d[k], w) {
			t.Errorf("%s = %#v, want %#v", k, d[k], w)
		}
	}
	if py := pythonPlist(t, path); py != "" && !strings.Contains(py, "'Label'") {
		t.Errorf("plistlib sees keys %s", py)
	}
}

func TestPlistReaderRejectsMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"key without value": `<plist version="1.0"><dict><key>Label</key></dict></plist>`,
		"unknown element":   `<plist version="1.0"><dict><key>A</key><str>x</str></dict></plist>`,
		"unclosed":          `<plist version="1.0"><dict><key>A</key><string>x</string>`,
		"two roots":         `<plist version="1.0"><dict/><dict/></plist>`,
	} {
		p := filepath.Join(dir, "x.plist")
		os.WriteFile(p, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+body), 0o644)
		if _, err := parsePlist(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMacAppBundleLayout(t *testing.T) {
	bash := requireTool(t, "bash", "runs make-app.sh")
	dir := t.TempDir()
	p256, err := assets.PNG(assets.ToneBrand, 256)
	if err != nil {
		t.Fatal(err)
	}
	icns, err := iconfmt.ICNS(p256)
	if err != nil {
		t.Fatal(err)
	}
	icnsPath := filepath.Join(dir, "in.icns")
	gui := filepath.Join(dir, "gui-binary")
	os.WriteFile(icnsPath, icns, 0o644)
	os.WriteFile(gui, []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct{ version, short, info string }{
		{"v1.2.3-4-gabcdef0", "1.2.3", "cvpn v1.2.3-4-gabcdef0"},
		{"2ca3566-dirty", "0.0.0", "cvpn 2ca3566-dirty"}, {"v10.4", "10.4", "cvpn v10.4"},
		{"dev<&>", "0.0.0", "cvpn dev<&>"},
	} {
		out := filepath.Join(dir, "out")
		os.RemoveAll(out)
		if b, err := exec.Command(bash, filepath.Join(pkgDir, "macos", "make-app.sh"), out, tc.version, icnsPath, gui).CombinedOutput(); err != nil {
			t.Fatalf("make-app.sh %s: %v\n%s", tc.version, err, b)
		}
		app := filepath.Join(out, "cvpn.app", "Contents")
		v, err := parsePlist(filepath.Join(app, "Info.plist"))
		if err != nil {
			t.Fatal(err)
		}
		info := v.(map[string]any)
		for k, w := range map[string]any{
			"CFBundleIdentifier": "io.github.cvpn", "CFBundlePackageType": "APPL",
			"CFBundleShortVersionString": tc.short, "CFBundleGetInfoString": tc.info,
		} {
			if info[k] != w {
				t.Errorf("%s: %s = %#v, want %#v", tc.version, k, info[k], w)
			}
		}
		// The keys point at files that exist in the bundle.
		exe := filepath.Join(app, "MacOS", info["CFBundleExecutable"].(string))
		if st, err := os.Stat(exe); err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("bundle executable %s: %v", exe, err)
		}
		if got, err := os.ReadFile(filepath.Join(app, "Resources", info["CFBundleIconFile"].(string))); err != nil || string(got) != string(icns) {
			t.Errorf("bundle icon: %v", err)
		}
		if got, _ := os.ReadFile(filepath.Join(app, "PkgInfo")); string(got) != "APPL????" {
			t.Errorf("PkgInfo %q", got)
		}
		pythonPlist(t, filepath.Join(app, "Info.plist"))
	}
}

// wxsNode is a generic XML element tree.
type wxsNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []wxsNode  `xml:",any"`
}

func (n wxsNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n wxsNode) walk(fn func(wxsNode)) {
	fn(n)
	for _, c := range n.Children {
		c.walk(fn)
	}
}

func TestWiXSource(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(pkgDir, "windows", "cvpn.wxs"))
	if err != nil {
		t.Fatal(err)
	}
	var root wxsNode
	if err := xml.Unmarshal(raw, &root); err != nil {
		t.Fatalf("cvpn.wxs is not well-formed XML: %v", err)
	}
	if root.XMLName.Space != "http://wixtoolset.org/schemas/v4/wxs" || root.XMLName.Local != "Wix" {
		t.Fatalf("root %v, want the WiX v4 namespace", root.XMLName)
	}
	components, refs := map[string]bool{}, map[string]bool{}
	var files []string
	var services, controls, shortcuts []wxsNode
	root.walk(func(n wxsNode) {
		switch n.XMLName.Local {
		case "Component":
			components[n.attr("Id")] = true
		case "ComponentRef":
			refs[n.attr("Id")] = true
		case "File":
			files = append(files, n.attr("Source"))
		case "ServiceInstall":
			services = append(services, n)
		case "ServiceControl":
			controls = append(controls, n)
		case "Shortcut":
			shortcuts = append(shortcuts, n)
		}
	})
	if !reflect.DeepEqual(components, refs) {
		t.Errorf("components %v but feature references %v", components, refs)
	}
	wantFiles := []string{`$(var.SourceDir)\cvpn.exe`, `$(var.SourceDir)\cvpn-gui.exe`, `$(var.SourceDir)\wintun.dll`, `$(var.SourceDir)\README-windows.txt`}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("files %q, want %q", files, wantFiles)
	}
	if len(services) != 1 || services[0].attr("Name") != "cvpn" || services[0].attr("Arguments") != "service run" ||
		services[0].attr("Start") != "auto" || services[0].attr("Account") != "LocalSystem" {
		t.Errorf("ServiceInstall %+v, want cvpn, auto, LocalSystem, arguments \"service run\"", services)
	}
	if len(controls) != 1 || controls[0].attr("Name") != "cvpn" || controls[0].attr("Stop") != "both" || controls[0].attr("Remove") != "uninstall" {
		t.Errorf("ServiceControl %+v", controls)
	}
	if len(shortcuts) != 1 || shortcuts[0].attr("Target") != "[INSTALLFOLDER]cvpn-gui.exe" {
		t.Errorf("Shortcut %+v", shortcuts)
	}
	// The README the zip carries explains wintun.dll and the service.
	readme, err := os.ReadFile(filepath.Join(pkgDir, "windows", "README-windows.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wintun.dll", "beside cvpn.exe", "cvpn.exe service install", "cvpn.exe service uninstall"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README-windows.txt does not mention %q", want)
		}
	}
}

// TestMaintainerScripts runs the scripts with a fake systemctl on PATH
// and checks the calls they make, for the systemd-running and the
// container case (the branch this host takes).
func TestMaintainerScripts(t *testing.T) {
	sh := requireTool(t, "sh", "runs the maintainer scripts")
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	fake := "#!/bin/sh\necho \"$*\" >>" + log + "\n"
	if err := os.WriteFile(filepath.Join(dir, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	// A fake cvpn: prerm lifts a block left behind (cvpn unblock).
	if err := os.WriteFile(filepath.Join(dir, "cvpn"), []byte("#!/bin/sh\necho \"cvpn $*\" >>"+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := os.Stat("/run/systemd/system")
	booted := err == nil
	for _, tc := range []struct {
		script string
		args   []string
		booted string // calls with systemd running
		other  string // calls without
	}{
		{"postinst", []string{"configure", ""}, "daemon-reload\nenable --now cvpn.service\n", "enable cvpn.service\n"},
		{"postinst", []string{"configure", "1.0"}, "daemon-reload\nenable cvpn.service\nrestart cvpn.service\ntry-restart cvpn-server@*.service\n", "enable cvpn.service\n"},
		// Enabled reference server instances are disabled too (the
		// internal/e2e/deb checks that with a real instance link).
		{"prerm", []string{"remove"}, "stop cvpn.service cvpn-server@*.service\ndisable cvpn.service\ncvpn unblock\n", "disable cvpn.service\ncvpn unblock\n"},
		{"prerm", []string{"upgrade", "2.0"}, "", ""},
		{"postrm", []string{"remove"}, "daemon-reload\n", ""},
	} {
		path := filepath.Join(pkgDir, "linux", "scripts", tc.script)
		if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Fatalf("sh -n %s: %v\n%s", path, err, out)
		}
		os.Remove(log)
		cmd := exec.Command(sh, append([]string{path}, tc.args...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "CVPN_SCRIPT_BIN="+filepath.Join(dir, "cvpn"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", tc.script, tc.args, err, out)
		}
		got, _ := os.ReadFile(log)
		want := tc.other
		if booted {
			want = tc.booted
		}
		if string(got) != want {
			t.Errorf("%s %q (systemd running: %v): systemctl calls %q, want %q", tc.script, tc.args, booted, got, want)
		}
	}
}
