package platform_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/darwin/scutil"
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
// test's server, search domain and routing domain: both domains are
// SupplementalMatchDomains (split DNS), only the search domain is a
// SearchDomain (resolve-domains are not searched).
func dnsApplied(t *testing.T, ifname string) bool {
	t.Helper()
	key := platform.OwnDNSKey(ifname)
	out := scutilShow(t, key)
	d, err := scutil.Parse(out)
	if errors.Is(err, scutil.ErrNoKey) {
		return false
	}
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	servers, search, match := d.Arrays["ServerAddresses"], d.Arrays["SearchDomains"], d.Arrays["SupplementalMatchDomains"]
	if !slices.Contains(servers, osDNS.String()) || !slices.Contains(search, osDNSZone) || slices.Contains(search, osDNSRoute) ||
		!slices.Contains(match, osDNSZone) || !slices.Contains(match, osDNSRoute) {
		t.Errorf("%s: want server %s, search domain %s only, match domains %s and %s (split DNS):\n%s", key, osDNS, osDNSZone, osDNSZone, osDNSRoute, out)
	}
	return true
}

// splitDNSActive reports whether the resolver configuration macOS computed
// from the dynamic store (scutil --dns) sends the routing domain to the
// test's server.
func splitDNSActive(t *testing.T) (bool, string) {
	t.Helper()
	b, err := exec.Command("/usr/sbin/scutil", "--dns").CombinedOutput()
	if err != nil {
		t.Fatalf("scutil --dns: %v\n%s", err, b)
	}
	out := string(b)
	for _, res := range strings.Split(out, "resolver #") {
		domain, server := false, false
		for _, l := range strings.Split(res, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			domain = domain || k == "domain" && v == osDNSRoute
			server = server || strings.HasPrefix(k, "nameserver[") && v == osDNS.String()
		}
		if domain && server {
			return true, out
		}
	}
	return false, out
}

// fullDNSApplied reports whether the global DNS configuration of the
// dynamic store names the test's server.
func fullDNSApplied(t *testing.T, ifname string) bool {
	t.Helper()
	return strings.Contains(dnsState(t), osDNS.String())
}
