package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/ovpn/profile"
)

var profiles = fixtures.Profiles()

// cvpn runs the command line in-process.
func cvpn(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

var diagLine = regexp.MustCompile(`^.+:\d+: (error|warning): \S.*$`)

func TestVersion(t *testing.T) {
	code, out, _ := cvpn(t, "version")
	want := "cvpn dev " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if code != 0 || out != want {
		t.Fatalf("version: %d %q, want %q", code, out, want)
	}
}

func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "cvpn")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=1.2.3-test", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "cvpn 1.2.3-test go") {
		t.Fatalf("version output %q, %v", out, err)
	}
}

func TestUsageAndUnknownCommand(t *testing.T) {
	code, out, errOut := cvpn(t, "frobnicate")
	if code != 2 || out != "" || !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "usage: cvpn COMMAND") {
		t.Fatalf("unknown command: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cvpn(t); code != 2 || !strings.Contains(errOut, "usage:") {
		t.Fatalf("no command: %d %q", code, errOut)
	}
	if code, _, errOut := cvpn(t, "profile", "frob"); code != 2 || !strings.Contains(errOut, `unknown subcommand "frob"`) {
		t.Fatalf("unknown subcommand: %d %q", code, errOut)
	}
	if code, _, errOut := cvpn(t, "profile", "check", "--bogus", "x"); code != 2 || !strings.Contains(errOut, "flag provided but not defined") {
		t.Fatalf("bad flag: %d %q", code, errOut)
	}
	if code, _, errOut := cvpn(t, "profile", "remove", "a", "b"); code != 2 || !strings.Contains(errOut, `unexpected argument "b"`) {
		t.Fatalf("extra argument: %d %q", code, errOut)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	var cases [][]string
	cases = append(cases, []string{"--help"}, []string{"help"}, []string{"help", "profile", "check"})
	for _, c := range commands() {
		cases = append(cases, []string{c.name, "--help"}, []string{c.name, "-h"})
	}
	for _, c := range profileSubcommands() {
		cases = append(cases, []string{"profile", c.name, "--help"})
	}
	for _, args := range cases {
		code, out, errOut := cvpn(t, args...)
		if code != 0 || !strings.Contains(out, "usage: cvpn") || errOut != "" {
			t.Errorf("%v: code %d stdout %q stderr %q", args, code, out, errOut)
		}
	}
}

func TestCheck(t *testing.T) {
	good := filepath.Join(profiles, "good", "aws-ad-mfa.ovpn")
	code, out, errOut := cvpn(t, "profile", "check", good)
	if code != 0 || out != good+": usable\n" || errOut != "" {
		t.Fatalf("good: %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(profiles, "bad", "wrong-arg-count.ovpn")
	code, out, errOut = cvpn(t, "profile", "check", bad)
	if code != 1 || out != "" {
		t.Fatalf("bad: %d %q", code, out)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("want 6 diagnostics, got:\n%s", errOut)
	}
	for _, l := range lines {
		if !diagLine.MatchString(l) || !strings.HasPrefix(l, bad+":") {
			t.Errorf("diagnostic not in FILE:LINE: severity: msg form: %q", l)
		}
	}
	if lines[0] != bad+":7: error: route: expects 1 to 4 arguments, got 0; usage: route NETWORK [NETMASK] [GATEWAY|vpn_gateway|net_gateway] [METRIC]" {
		t.Errorf("first diagnostic %q", lines[0])
	}

	// --json after the file name, warnings only: usable, exit 0.
	warn := filepath.Join(profiles, "bad", "up-script.ovpn")
	code, out, errOut = cvpn(t, "profile", "check", warn, "--json")
	var res profile.CheckResult
	if code != 0 || errOut != "" || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("json: %d %q %q", code, out, errOut)
	}
	if res.File != warn || !res.Usable || len(res.Diagnostics) != 3 || res.Diagnostics[0].Line != 8 || res.Diagnostics[0].Severity != profile.SeverityWarning {
		t.Fatalf("json result %+v", res)
	}
	code, out, _ = cvpn(t, "profile", "check", "--json", bad)
	if code != 1 || json.Unmarshal([]byte(out), &res) != nil || res.Usable || len(res.Diagnostics) != 6 {
		t.Fatalf("json bad: %d %s", code, out)
	}
	code, _, errOut = cvpn(t, "profile", "check", filepath.Join(t.TempDir(), "nope.ovpn"))
	if code != 1 || !strings.Contains(errOut, "nope.ovpn") || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: %d %q", code, errOut)
	}
}

func TestProfileStoreRoundTrip(t *testing.T) {
	home := t.TempDir()
	t.Setenv(profilestore.EnvHome, home)
	src := filepath.Join(profiles, "good", "relative-paths.ovpn")

	code, out, errOut := cvpn(t, "profile", "import", src, "--name", "lab")
	if code != 0 || !strings.Contains(out, `as "lab"`) || errOut != "" {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	stored := filepath.Join(home, "profiles", "lab.ovpn")
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(stored)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("stored file: %v %v", fi.Mode(), err)
		}
		di, err := os.Stat(filepath.Dir(stored))
		if err != nil || di.Mode().Perm() != 0o700 {
			t.Fatalf("profile folder: %v %v", di.Mode(), err)
		}
	}
	// The stored copy checks clean on its own, far from its certs/ folder.
	if code, _, errOut := cvpn(t, "profile", "check", stored); code != 0 {
		t.Fatalf("stored copy does not check: %s", errOut)
	}

	code, _, errOut = cvpn(t, "profile", "import", filepath.Join(profiles, "good", "aws-ad.ovpn"), "--name", "lab")
	if code != 1 || !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, "--name") {
		t.Fatalf("duplicate: %d %q", code, errOut)
	}
	if code, _, _ := cvpn(t, "profile", "import", filepath.Join(profiles, "good", "aws-federated-mutual.ovpn")); code != 0 {
		t.Fatal("second import failed")
	}
	code, _, errOut = cvpn(t, "profile", "import", filepath.Join(profiles, "bad", "key-mismatch.ovpn"))
	if code != 1 || !strings.Contains(errOut, "key-mismatch.ovpn:33: error: key: the private key does not belong") {
		t.Fatalf("bad import: %d %q", code, errOut)
	}

	code, out, _ = cvpn(t, "profile", "list", "--json")
	var list []profilestore.Entry
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0].Name != "aws-federated-mutual" || list[1].Name != "lab" {
		t.Fatalf("list: %d %s", code, out)
	}
	if got := strings.Join(list[0].Auth, ","); got != "certificate,federated" {
		t.Errorf("auth %q", got)
	}
	code, out, _ = cvpn(t, "profile", "list")
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "lab") {
		t.Fatalf("list text: %q", out)
	}

	code, out, _ = cvpn(t, "profile", "show", "lab")
	if code != 0 || !strings.Contains(out, "private key:     present (not shown)") || strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "BEGIN") {
		t.Fatalf("show: %d\n%s", code, out)
	}
	code, out, _ = cvpn(t, "profile", "show", "lab", "--json")
	var d profilestore.Details
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || !d.Profile.PrivateKey || d.Profile.ControlKey != "tls-auth" || d.Name != "lab" {
		t.Fatalf("show json: %d %s", code, out)
	}
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "Static key") {
		t.Fatal("show --json prints key material")
	}

	if code, out, _ := cvpn(t, "profile", "remove", "lab"); code != 0 || out != "removed \"lab\"\n" {
		t.Fatalf("remove: %d %q", code, out)
	}
	if code, _, errOut := cvpn(t, "profile", "remove", "lab"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("remove again: %d %q", code, errOut)
	}
	if code, _, errOut := cvpn(t, "profile", "show", "lab"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("show removed: %d %q", code, errOut)
	}
	code, out, _ = cvpn(t, "profile", "list", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 {
		t.Fatalf("list after remove: %s", out)
	}
}
