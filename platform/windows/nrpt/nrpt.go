package nrpt

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// PolicyKey is the local NRPT, relative to HKEY_LOCAL_MACHINE.
const PolicyKey = `SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig`

// GPOPolicyKey is the NRPT of group policy. When it has rules, Windows
// ignores the local table at PolicyKey.
const GPOPolicyKey = `SOFTWARE\Policies\Microsoft\Windows NT\DNSClient\DnsPolicyConfig`

// Kind is a registry value type.
type Kind int

const (
	String      Kind = iota + 1 // REG_SZ
	MultiString                 // REG_MULTI_SZ
	DWord                       // REG_DWORD
)

// Value is one registry value of a rule.
type Value struct {
	Name    string
	Kind    Kind
	String  string
	Strings []string
	DWord   uint32
}

// Rule is one NRPT rule: a registry key and its values.
type Rule struct {
	// Key is relative to HKEY_LOCAL_MACHINE.
	Key    string
	Values []Value
}

// configGenericDNS is ConfigOptions 0x8: the rule sends its names to
// GenericDNSServers.
const configGenericDNS = 0x8

// KeyName is the name of the rule key of a tunnel interface: a GUID-like
// string derived from the interface name, stable across restarts so that
// a crashed tunnel's rule is found again.
func KeyName(ifname string) string {
	h := sha256.Sum256([]byte("cvpn nrpt " + ifname))
	return fmt.Sprintf("{%x-%x-%x-%x-%x}", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Namespaces turns DNS domains into NRPT namespaces: a leading dot matches
// the domain and every name under it. all gives ".", every name.
func Namespaces(domains []string, all bool) ([]string, error) {
	if all {
		return []string{"."}, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range domains {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		if d == "" {
			continue
		}
		if strings.ContainsAny(d, " \t;\x00") {
			return nil, fmt.Errorf("nrpt: domain %q contains a space, ';' or NUL", d)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, "."+d)
		}
	}
	return out, nil
}

// ForTunnel builds the rule of a tunnel interface: its domains (every
// name when all) go to servers.
func ForTunnel(ifname string, servers []netip.Addr, domains []string, all bool) (Rule, error) {
	if len(servers) == 0 {
		return Rule{}, errors.New("nrpt: no DNS servers")
	}
	ns, err := Namespaces(domains, all)
	if err != nil {
		return Rule{}, err
	}
	if len(ns) == 0 {
		return Rule{}, errors.New("nrpt: no domains to send to the tunnel")
	}
	var srv []string
	for _, s := range servers {
		srv = append(srv, s.Unmap().String())
	}
	return Rule{
		Key: PolicyKey + `\` + KeyName(ifname),
		Values: []Value{
			{Name: "Version", Kind: DWord, DWord: 2},
			{Name: "Name", Kind: MultiString, Strings: ns},
			{Name: "GenericDNSServers", Kind: String, String: strings.Join(srv, ";")},
			{Name: "ConfigOptions", Kind: DWord, DWord: configGenericDNS},
			{Name: "IPSECCARestriction", Kind: String, String: ""},
		},
	}, nil
}
