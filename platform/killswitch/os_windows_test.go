package killswitch_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailscale/wf"

	"github.com/cvpn/cvpn/platform/killswitch"
)

// cvpn's executable (here: the test binary) is permitted by its
// application ID only to the remotes' ports and DNS, as the socket mark
// does on Linux, so this process's other sends show the block.
const udpChecksWhileBlocked = true

// wfpName is in the display names of the provider, sublayer and filters
// of cvpn's kill-switch session.
const wfpName = "cvpn kill switch"

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

// checkInstalled reads the filters of cvpn's session back from WFP: one
// per filter of WFPFilters(r), and at ALE_AUTH_CONNECT_V4 a block of each
// of the split block's VPN prefixes (a full block's catch-all block).
func checkInstalled(t *testing.T, fw killswitch.Firewall, r killswitch.Rules) {
	t.Helper()
	w, ok := fw.(*killswitch.WFP)
	if !ok {
		t.Fatalf("backend %T, want *killswitch.WFP", fw)
	}
	want, err := killswitch.WFPFilters(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("WFP holds %d filters of cvpn's sublayer, want %d", len(got), len(want))
	}
	blocks := func(pfx netip.Prefix) bool {
		for _, x := range got {
			if x.Layer != wf.LayerALEAuthConnectV4 || x.Action != wf.ActionBlock {
				continue
			}
			if !pfx.IsValid() && len(x.Conditions) == 0 {
				return true
			}
			for _, c := range x.Conditions {
				if c.Field == wf.FieldIPRemoteAddress && fmt.Sprint(c.Value) == pfx.String() {
					return true
				}
			}
		}
		return false
	}
	if r.Mode == killswitch.ModeFull && !blocks(netip.Prefix{}) {
		t.Errorf("no catch-all block at ALE_AUTH_CONNECT_V4 among %d filters", len(got))
	}
	for _, v := range r.VPN {
		if v.Addr().Is4() && !blocks(v) {
			t.Errorf("no block of %s at ALE_AUTH_CONNECT_V4 among %d filters", v, len(got))
		}
	}
}
