package profilestore

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/ovpn/profile"
)

var profiles = fixtures.Profiles()

func testNow() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := Open(root, Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func checkModes(t *testing.T, s *Store, name string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	di, err := os.Stat(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", di.Mode().Perm())
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), name+".ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestImportListLoadRemove(t *testing.T) {
	s, _ := newStore(t)
	e, ds, err := s.ImportFile(filepath.Join(profiles, "good", "relative-paths.ovpn"), "")
	if err != nil || len(ds) != 0 {
		t.Fatalf("import: %v %s", err, ds)
	}
	if e.Name != "relative-paths" || !e.Usable || strings.Join(e.Remotes, ",") != "vpn.lab.test:443/udp" || strings.Join(e.Auth, ",") != "certificate" {
		t.Fatalf("entry %+v", e)
	}
	checkModes(t, s, "relative-paths")

	// The stored copy is self-contained: it loads with file references refused.
	p, ds, err := s.Load("relative-paths")
	if err != nil || len(ds) != 0 {
		t.Fatalf("load: %v\n%s", err, ds)
	}
	if p.ClientCert == nil || p.TLSAuth == nil || p.KeyDirection != profile.KeyDirection1 {
		t.Fatal("stored profile lost its certificate or tls-auth key")
	}
	text, _ := s.Read("relative-paths")
	if strings.Contains(string(text), "certs/") || !strings.Contains(string(text), "<key>") {
		t.Fatalf("stored profile is not self-contained:\n%s", text)
	}

	if _, _, err := s.ImportFile(filepath.Join(profiles, "good", "aws-ad.ovpn"), "work"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "relative-paths" || list[1].Name != "work" {
		t.Fatalf("list %+v", list)
	}
	if err := s.Remove("work"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if _, _, err := s.Load("work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("load removed: %v", err)
	}
	list, _ = s.List()
	if len(list) != 1 {
		t.Fatalf("list after remove %+v", list)
	}
	leftovers, _ := filepath.Glob(filepath.Join(s.Dir(), ".import-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestDuplicateRefused(t *testing.T) {
	s, _ := newStore(t)
	src := filepath.Join(profiles, "good", "aws-ad.ovpn")
	if _, _, err := s.ImportFile(src, "ad"); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Read("ad")
	_, _, err := s.ImportFile(filepath.Join(profiles, "good", "aws-mutual.ovpn"), "ad")
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("duplicate import: %v", err)
	}
	after, _ := s.Read("ad")
	if string(before) != string(after) {
		t.Fatal("duplicate import changed the stored profile")
	}
	// The race path: the name appears between the check and the write.
	if err := s.writeNew("ad", []byte("x")); !errors.Is(err, ErrExists) {
		t.Fatalf("writeNew over existing: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(s.Dir(), ".import-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestBadProfileNotStored(t *testing.T) {
	s, _ := newStore(t)
	_, ds, err := s.ImportFile(filepath.Join(profiles, "bad", "dev-tap.ovpn"), "")
	var pe *profile.ProfileError
	if !errors.As(err, &pe) || !ds.HasErrors() || !strings.Contains(err.Error(), "dev-tap.ovpn:2: error: dev tap") {
		t.Fatalf("bad import: %v", err)
	}
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 0 {
		t.Fatalf("files written for a refused profile: %v", entries)
	}
}

func TestNames(t *testing.T) {
	for _, bad := range []string{"", ".hidden", "-x", "a/b", `a\b`, "a b", "..", strings.Repeat("x", 65)} {
		if ValidateName(bad) == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"work", "AWS-prod_1.eu"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"/x/My Profile (1).ovpn":  "My-Profile--1-",
		"/x/.ovpn":                "profile",
		"/x/..weird.conf":         "weird",
		"C:/x/cvpn-endpoint.ovpn": "cvpn-endpoint",
	} {
		if got := NameFromPath(in); got != want {
			t.Errorf("NameFromPath(%q) = %q, want %q", in, got, want)
		}
	}
	s, _ := newStore(t)
	if _, err := s.Read("../../etc/passwd"); err == nil {
		t.Error("path traversal accepted")
	}
}

func TestCredentialsFileNotCopied(t *testing.T) {
	s, _ := newStore(t)
	dir := t.TempDir()
	ca, err := os.ReadFile(filepath.Join(profiles, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	src := "client\ndev tun\nremote vpn.lab.test 443\nauth-user-pass secret-creds.txt\n<ca>\n" + string(ca) + "</ca>\n"
	path := filepath.Join(dir, "x.ovpn")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, ds, err := s.ImportFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Severity != profile.SeverityWarning || ds[0].Line != 4 || !strings.Contains(ds[0].Message, "not copied") {
		t.Fatalf("want one warning about the credentials file, got %s", ds)
	}
	text, _ := s.Read("x")
	if strings.Contains(string(text), "secret-creds") {
		t.Fatal("credentials file name stored")
	}
}

func TestDefaultRootAndTightenMode(t *testing.T) {
	root := t.TempDir()
	t.Setenv(EnvHome, root)
	got, err := DefaultRoot()
	if err != nil || got != root {
		t.Fatalf("DefaultRoot = %q, %v", got, err)
	}
	t.Setenv(EnvHome, "")
	got, err = DefaultRoot()
	if err == nil && filepath.Base(got) != "cvpn" {
		t.Fatalf("DefaultRoot without %s = %q", EnvHome, got)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if err := os.MkdirAll(filepath.Join(root, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(s.Dir())
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("existing folder not tightened: %v", fi.Mode().Perm())
	}
}
