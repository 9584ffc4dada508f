package platform_test

import (
	"errors"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/windows/nrpt"
)

// osTunName is the Wintun adapter name pattern of the tests.
const osTunName = "cvpntest%d"

// nrptRules lists the local NRPT rules (subkey names).
func nrptRules(t *testing.T) []string {
	t.Helper()
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, nrpt.PolicyKey, registry.ENUMERATE_SUB_KEYS)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return nil
	}
	if err != nil {
		t.Fatalf("open HKLM\\%s: %v", nrpt.PolicyKey, err)
	}
	defer k.Close()
	names, err := k.ReadSubKeyNames(-1)
	if err != nil {
		t.Fatalf("read HKLM\\%s: %v", nrpt.PolicyKey, err)
	}
	slices.Sort(names)
	return names
}

// dnsState is the local NRPT: the names of its rules.
func dnsState(t *testing.T) string {
	t.Helper()
	return "NRPT: " + strings.Join(nrptRules(t), ",")
}

// dnsApplied reports whether the NRPT rule of ifname exists and names the
// test's server and domain (or every name).
func dnsApplied(t *testing.T, ifname string) bool {
	t.Helper()
	key := nrpt.PolicyKey + `\` + nrpt.KeyName(ifname)
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, key, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	servers, _, _ := k.GetStringValue("GenericDNSServers")
	names, _, _ := k.GetStringsValue("Name")
	// Split DNS: the namespaces of the search and the routing domain
	// (resolve-domains); full-tunnel DNS: every name (".").
	split := []string{"." + osDNSZone, "." + osDNSRoute}
	if !strings.Contains(servers, osDNS.String()) || !slices.Equal(names, split) && !slices.Equal(names, []string{"."}) {
		t.Errorf("HKLM\\%s: servers %q names %q, want %s and names %q (split) or \".\" (full tunnel)", key, servers, names, osDNS, split)
	}
	return true
}

// splitDNSActive reports whether the NRPT the DNS client service has in
// effect (Get-DnsClientNrptPolicy) sends the routing domain's namespace to
// the test's server.
func splitDNSActive(t *testing.T) (bool, string) {
	t.Helper()
	b, err := exec.Command("powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
		`Get-DnsClientNrptPolicy | ForEach-Object { foreach ($n in @($_.Namespace)) { $n + ' ' + (@($_.NameServers) -join ',') } }`).CombinedOutput()
	if err != nil {
		t.Fatalf("Get-DnsClientNrptPolicy: %v\n%s", err, b)
	}
	out := string(b)
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && strings.EqualFold(f[0], "."+osDNSRoute) && slices.Contains(strings.Split(f[1], ","), osDNS.String()) {
			return true, out
		}
	}
	return false, out
}

// fullDNSApplied reports whether the tunnel interface has the test's DNS
// server and its NRPT rule exists.
func fullDNSApplied(t *testing.T, ifname string) bool {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return false
	}
	luid, err := winipcfg.LUIDFromIndex(uint32(ifi.Index))
	if err != nil {
		return false
	}
	servers, err := luid.DNS()
	return err == nil && slices.Contains(servers, osDNS) && dnsApplied(t, ifname)
}
