package autostart

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetLinux(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if on, err := Enabled("io.example.app"); err != nil || on {
		t.Fatalf("before: %v %v", on, err)
	}
	if err := Set("io.example.app", "/opt/cvpn/cvpn-gui", true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "autostart", "io.example.app.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "Exec=\"/opt/cvpn/cvpn-gui\" --at-login\n") || !strings.HasPrefix(string(data), "[Desktop Entry]\n") {
		t.Fatalf("desktop file:\n%s", data)
	}
	if on, _ := Enabled("io.example.app"); !on {
		t.Fatal("not enabled after Set(true)")
	}
	if err := Set("io.example.app", "", false); err != nil {
		t.Fatal(err)
	}
	if on, _ := Enabled("io.example.app"); on {
		t.Fatal("still enabled after Set(false)")
	}
	if err := Set("io.example.app", "", false); err != nil {
		t.Fatalf("disabling twice: %v", err)
	}
	if err := Set("io.example.app", "/bad\npath", true); err == nil {
		t.Fatal("newline in path accepted")
	}
}
