package killswitch_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const isWindows = true

// The WFP session permits cvpn's executable (here: the test binary) by its
// application ID, so this process's own sends pass whatever the block.
const udpChecksWhileBlocked = false

// wfpName is in the display names of the provider, sublayer and filters
// that wireguard-windows's firewall package installs for cvpn.
const wfpName = "WireGuard"

// fwState counts the WFP objects named wfpName in the system's filter
// list, read with netsh wfp show filters (the Base Filtering Engine's own
// enumeration).
func fwState(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "filters.xml")
	out, err := exec.Command("netsh", "wfp", "show", "filters", "file="+file).CombinedOutput()
	if err != nil {
		t.Fatalf("netsh wfp show filters: %v\n%s", err, out)
	}
	xml, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("netsh wfp show filters: %v\n%s", err, out)
	}
	return fmt.Sprintf("WFP filter entries naming %s: %d", wfpName, strings.Count(string(xml), wfpName))
}

// ours reports whether state counts any filter of cvpn's session.
func ours(state string) bool { return !strings.HasSuffix(state, ": 0") }
