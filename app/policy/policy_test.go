package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadEveryKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.toml")
	profiles := filepath.Join(t.TempDir(), "profiles") // absolute on every OS
	text := `# managed by IT
client_route_enforcement = "force"
autoconnect = ["corp", "lab-2"]
profiles_dir = '` + profiles + string(filepath.Separator) + `'
allow_user_profiles = false
max_connections = 2
block_when_down = true
admin_groups = ["netops"]
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{Path: path, Found: true, ClientRouteEnforcement: EnforcementForce, Autoconnect: []string{"corp", "lab-2"},
		ProfilesDir: profiles, AllowUserProfiles: false, MaxConnections: 2, BlockWhenDown: true, AdminGroups: []string{"netops"},
		From: map[string]string{}}
	for _, k := range keys {
		want.From[k] = "file " + path
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", p, want)
	}
	if !p.ForceEnforcement() || !p.Autoconnects("corp") || p.Autoconnects("other") {
		t.Errorf("ForceEnforcement/Autoconnects wrong for %+v", p)
	}
}

func TestMissingFileIsDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.toml")
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Found || p.ForceEnforcement() || !p.AllowUserProfiles || p.BlockWhenDown || p.MaxConnections != 0 ||
		p.AdminGroups != nil || len(p.Autoconnect) != 0 || p.ProfilesDir != DefaultProfilesDir() {
		t.Errorf("missing file: %+v, want the defaults", p)
	}
	// An empty admin_groups list is a decision (only root), not "unset".
	p, err = Parse("x.toml", "admin_groups = []\n")
	if err != nil || p.AdminGroups == nil || len(p.AdminGroups) != 0 {
		t.Errorf("admin_groups = []: %#v, %v; want an empty, non-nil list", p.AdminGroups, err)
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unknown key", "max_connections = 3\n\nautoconect = [\"corp\"]\n", ":3: autoconect: unknown key"},
		{"unknown table", "allow_user_profiles = true\n[extra]\nx = 1\n", ":2: extra: unknown key"},
		{"bad enforcement", "client_route_enforcement = \"always\"\n", `:1: client_route_enforcement: want "endpoint" or "force", not "always"`},
		{"enforcement not a string", "\nclient_route_enforcement = true\n", ":2: client_route_enforcement: want"},
		{"autoconnect not a list", "autoconnect = \"corp\"\n", `:1: autoconnect: want a list of strings`},
		{"autoconnect bad name", "autoconnect = [\"../etc\"]\n", `:1: autoconnect: the profile name "../etc"`},
		{"autoconnect twice", "autoconnect = [\"a\", \"a\"]\n", `:1: autoconnect: "a" is listed twice`},
		{"relative profiles_dir", "profiles_dir = \"profiles\"\n", `:1: profiles_dir: want an absolute folder path`},
		{"allow not bool", "allow_user_profiles = \"no\"\n", `:1: allow_user_profiles: want true or false, not "no"`},
		{"block not bool", "block_when_down = 1\n", `:1: block_when_down: want true or false, not 1`},
		{"max zero", "max_connections = 0\n", `:1: max_connections: want a whole number from 1 to 64, not 0`},
		{"max float", "max_connections = 2.5\n", `:1: max_connections: want a whole number`},
		{"groups with comma", "admin_groups = [\"a,b\"]\n", `:1: admin_groups: "a,b" is not a group name`},
		{"syntax", "a = 1\nclient_route_enforcement = \n", "line 2"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".toml")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v\nwant one naming %s and containing %q", err, path, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Setenv(EnvPolicy, "")
	if got := Resolve(""); got != DefaultPath() {
		t.Errorf("Resolve(\"\") = %q, want %q", got, DefaultPath())
	}
	t.Setenv(EnvPolicy, "/env/policy.toml")
	if got := Resolve(""); got != "/env/policy.toml" {
		t.Errorf("with $%s: %q", EnvPolicy, got)
	}
	if got := Resolve("/flag.toml"); got != "/flag.toml" {
		t.Errorf("the flag must win over $%s: %q", EnvPolicy, got)
	}
}
