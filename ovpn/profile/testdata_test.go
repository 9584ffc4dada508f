package profile

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/profiles/bad")

const profilesDir = "../../testdata/profiles"

// testNow is the clock for every test: the good certificates are valid
// (2024..2124), the expired one is not (2000..2001).
func testNow() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func parseTestFile(t *testing.T, path string) (*Profile, Diagnostics) {
	t.Helper()
	p, ds, err := ParseFile(path, Options{Name: filepath.Base(path), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return p, ds
}

func TestGoodProfilesHaveNoDiagnostics(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(profilesDir, "good", "*.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("want at least 15 good profiles, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, ds := parseTestFile(t, f)
			if len(ds) != 0 {
				t.Fatalf("unexpected diagnostics:\n%s", ds)
			}
			if len(p.Remotes) == 0 || len(p.CA) == 0 || !p.Client {
				t.Fatalf("incomplete model: remotes=%v ca=%d client=%v", p.Remotes, len(p.CA), p.Client)
			}
		})
	}
}

func TestBadProfilesGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(profilesDir, "bad", "*.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 {
		t.Fatalf("want at least 12 bad profiles, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, ds := parseTestFile(t, f)
			if len(ds) == 0 {
				t.Fatal("no diagnostics for a bad profile")
			}
			got := ds.String()
			golden := strings.TrimSuffix(f, ".ovpn") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			for _, d := range ds {
				for _, secret := range []string{"PRIVATE KEY", "hunter2"} {
					if strings.Contains(d.Message, secret) {
						t.Errorf("diagnostic leaks %q: %s", secret, d)
					}
				}
			}
		})
	}
}
