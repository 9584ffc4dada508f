package diagnose

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/internal/testkit/fixtures"
)

// unzip returns the bundle's files.
func unzip(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
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

// keyLines are the base64 lines of every PEM private key and static key
// in a profile: a bundle must hold none of them.
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
		t.Fatal("the test profile carries no key")
	}
	return out
}

func TestBundleHoldsNoSecret(t *testing.T) {
	root := t.TempDir()
	st, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(fixtures.Profiles(), "good", "aws-mutual.ovpn")
	if _, _, err := st.ImportFile(src, "work"); err != nil {
		t.Fatal(err)
	}
	stored, _ := st.Read("work")
	secrets := keyLines(t, string(stored))
	const password, token = "hunter2-Pa55", "AT-tok-0f9a8b7c6d5e"
	assertion := strings.Repeat("PHNhbWw6QXNzZXJ0aW9uIElEPSJfYWJjIiB4bWxucz0idXJu", 4)
	secrets = append(secrets, password, token, assertion[:60])

	policyPath := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(policyPath, []byte("max_connections = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemon's part as a careless daemon might send it: raw secrets.
	daemon := func(context.Context) (*ipc.Diagnostics, error) {
		return &ipc.Diagnostics{Files: []ipc.DiagFile{
			{Name: "daemon/logs/work-2026-12-07.log", Text: "level=INFO msg=\"connect requested\" owner=\"uid 1000\"\n" +
				"level=DEBUG msg=auth password=" + password + " user=alice\n" +
				"level=DEBUG msg=push detail=\"PUSH_REPLY,route 10.0.0.0 255.0.0.0,auth-token " + token + ",ping 10\"\n" +
				"level=DEBUG msg=saml response=" + assertion + "\n" + string(stored)},
			{Name: "daemon/status.json", Text: `[{"name":"work","routes":["10.0.0.0/8"],"dns":true}]`},
		}}, nil
	}
	var buf bytes.Buffer
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	rep, err := Write(context.Background(), &buf, Options{Version: "1.2.3", Now: func() time.Time { return now },
		PolicyPath: policyPath, UserRoot: root, Daemon: daemon})
	if err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	for name, text := range files {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q", name, s)
			}
		}
	}
	for name, want := range map[string]string{
		"README.txt":         "network monitor: nothing from the daemon",
		"system.txt":         "cvpn 1.2.3",
		"policy.txt":         "max_connections = 2  # from file ",
		"profiles.json":      `"private_key": true`,
		"daemon/status.json": "10.0.0.0/8",
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, files[name])
		}
	}
	if !strings.Contains(files["daemon/logs/work-2026-12-07.log"], "route 10.0.0.0 255.0.0.0") {
		t.Errorf("log lost its non-secret content:\n%s", files["daemon/logs/work-2026-12-07.log"])
	}
	if len(rep.Files) != len(files) {
		t.Errorf("report lists %d files, the zip holds %d", len(rep.Files), len(files))
	}

	// Without a daemon: the rest is collected (the local logs read
	// directly, redacted) and the bundle says what not.
	logs := t.TempDir()
	if err := os.WriteFile(filepath.Join(logs, "work-2026-12-07.log"), []byte("level=INFO msg=x password="+password+"\nlevel=INFO msg=\"connection ended\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	rep, err = Write(context.Background(), &buf, Options{PolicyPath: policyPath, UserRoot: root, LocalLogs: logs,
		Daemon: func(context.Context) (*ipc.Diagnostics, error) {
			return nil, errors.New("the cvpn daemon is not running")
		}})
	if err != nil {
		t.Fatal(err)
	}
	files = unzip(t, buf.Bytes())
	if l := files["logs/work-2026-12-07.log"]; !strings.Contains(l, "connection ended") || strings.Contains(l, password) {
		t.Errorf("local log without a daemon:\n%s", l)
	}
	if !strings.Contains(files["README.txt"], "daemon (connections, routes, DNS, journals, events): the cvpn daemon is not running") ||
		!strings.Contains(files["profiles.json"], `"name": "work"`) || len(rep.Missing) < 2 {
		t.Errorf("bundle without a daemon: %+v\n%s", rep, files["README.txt"])
	}
}
