package policy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
)

// TestOSManagedPrefsFromPlutil reads a binary plist written by macOS's own
// tools (defaults write, plutil -convert binary1), as cfprefsd leaves
// managed preferences, from a temporary folder (the real
// /Library/Managed Preferences belongs to the MDM).
func TestOSManagedPrefsFromPlutil(t *testing.T) {
	osinteg.Require(t, "TestOSManagedPrefsFromPlutil")
	if got := OSSource().Name(); got != "managed preferences /Library/Managed Preferences/"+ManagedDomain+".plist" {
		t.Errorf("OSSource = %s", got)
	}
	dir := t.TempDir()
	xml := filepath.Join(dir, "xml.plist")
	if err := os.WriteFile(xml, []byte(managedXML), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, ManagedDomain+".plist")
	if b, err := exec.Command("plutil", "-convert", "binary1", "-o", bin, xml).CombinedOutput(); err != nil {
		t.Fatalf("plutil: %v\n%s", err, b)
	}
	checkManagedPrefs(t, bin)

	// defaults writes binary plists too.
	dflt := filepath.Join(dir, "defaults") // defaults adds .plist
	for _, args := range [][]string{
		{"write", dflt, "client_route_enforcement", "-string", "force"},
		{"write", dflt, "autoconnect", "-array", "corp"},
		{"write", dflt, "allow_user_profiles", "-bool", "false"},
		{"write", dflt, "max_connections", "-int", "2"},
		{"write", dflt, "block_when_down", "-bool", "true"},
		{"write", dflt, "admin_groups", "-array", "admin", "netops"},
	} {
		if b, err := exec.Command("defaults", args...).CombinedOutput(); err != nil {
			t.Fatalf("defaults %v: %v\n%s", args, err, b)
		}
	}
	checkManagedPrefs(t, dflt+".plist")
}
