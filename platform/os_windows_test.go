package platform_test

import (
	"errors"
	"net"
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
	// Split DNS names the test's domain; full-tunnel DNS every name (".").
	joined := strings.Join(names, ",")
	if !strings.Contains(servers, osDNS.String()) || !(strings.Contains(joined, osDNSZone) && strings.Contains(joined, osDNSRoute)) && !slices.Contains(names, ".") {
		t.Errorf("HKLM\\%s: servers %q names %q, want %s and %s, %s", key, servers, names, osDNS, osDNSZone, osDNSRoute)
	}
	return true
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
