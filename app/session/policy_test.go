package session

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLoadAdminPolicy(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		force         bool
		wantErr       string
	}{
		{name: "force", content: "client_route_enforcement = \"force\"\n", force: true},
		{name: "endpoint", content: "client_route_enforcement = \"endpoint\"\n"},
		{name: "other keys only", content: "update_channel = \"stable\"\n"},
		{name: "bad value", content: "client_route_enforcement = \"always\"\n", wantErr: `client_route_enforcement = "always": want "endpoint" or "force"`},
		{name: "not a string", content: "client_route_enforcement = true\n", wantErr: "must be a string"},
		{name: "syntax", content: "a = 1\nclient_route_enforcement = \n", wantErr: "line 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".toml")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := LoadAdminPolicy(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and containing %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ForceEnforcement() != tc.force {
				t.Errorf("ForceEnforcement = %v, want %v", p.ForceEnforcement(), tc.force)
			}
		})
	}
	p, err := LoadAdminPolicy(filepath.Join(dir, "missing.toml"))
	if err != nil || p.ForceEnforcement() || p.ClientRouteEnforcement != EnforcementEndpoint {
		t.Errorf("missing file: %+v, %v; want the endpoint default", p, err)
	}
}
