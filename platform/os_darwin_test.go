package platform_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform"
)

// osTunName asks macOS for the next free utun device.
const osTunName = "utun"

// scutilShow returns scutil's answer to "show key".
func scutilShow(t *testing.T, key string) string {
	t.Helper()
	cmd := exec.Command("/usr/sbin/scutil")
	cmd.Stdin = strings.NewReader("show " + key + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scutil show %s: %v\n%s", key, err, out)
	}
	return string(out)
}

// dnsState is the global DNS configuration of the dynamic store.
func dnsState(t *testing.T) string {
	t.Helper()
	return scutilShow(t, "State:/Network/Global/DNS")
}

// dnsApplied reports whether cvpn's DNS key of ifname exists and names the
// test's server, search domain and routing domain.
func dnsApplied(t *testing.T, ifname string) bool {
	t.Helper()
	out := scutilShow(t, platform.OwnDNSKey(ifname))
	if strings.Contains(out, "No such key") {
		return false
	}
	if !strings.Contains(out, osDNS.String()) || !strings.Contains(out, osDNSZone) || !strings.Contains(out, osDNSRoute) {
		t.Errorf("%s lacks %s, %s or the routing domain %s:\n%s", platform.OwnDNSKey(ifname), osDNS, osDNSZone, osDNSRoute, out)
	}
	return true
}

// fullDNSApplied reports whether the global DNS configuration of the
// dynamic store names the test's server.
func fullDNSApplied(t *testing.T, ifname string) bool {
	t.Helper()
	return strings.Contains(dnsState(t), osDNS.String())
}
