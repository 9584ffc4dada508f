package nrpt

import (
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestForTunnelSplit(t *testing.T) {
	rule, err := ForTunnel("cvpn0", []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("::ffff:10.0.0.3")},
		[]string{"Corp.Example.", "ec2.internal", "corp.example", ""}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rule.Key, PolicyKey+`\{`) || rule.Key != PolicyKey+`\`+KeyName("cvpn0") {
		t.Fatalf("key %s", rule.Key)
	}
	want := []Value{
		{Name: "Version", Kind: DWord, DWord: 2},
		{Name: "Name", Kind: MultiString, Strings: []string{".corp.example", ".ec2.internal"}},
		{Name: "GenericDNSServers", Kind: String, String: "10.0.0.2;10.0.0.3"},
		{Name: "ConfigOptions", Kind: DWord, DWord: 8},
		{Name: "IPSECCARestriction", Kind: String, String: ""},
	}
	if !reflect.DeepEqual(rule.Values, want) {
		t.Fatalf("values\n%+v\nwant\n%+v", rule.Values, want)
	}
}

func TestForTunnelAll(t *testing.T) {
	rule, err := ForTunnel("cvpn0", []netip.Addr{netip.MustParseAddr("fd00::53")}, []string{"corp.example"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := rule.Values[1].Strings; !reflect.DeepEqual(got, []string{"."}) {
		t.Fatalf("namespaces %v", got)
	}
}

func TestKeyName(t *testing.T) {
	a, b := KeyName("cvpn0"), KeyName("cvpn1")
	if a == b || a != KeyName("cvpn0") {
		t.Fatalf("key names %s %s", a, b)
	}
	if !regexp.MustCompile(`^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$`).MatchString(a) {
		t.Fatalf("not GUID-shaped: %s", a)
	}
}

func TestErrors(t *testing.T) {
	if _, err := ForTunnel("x", nil, []string{"a"}, false); err == nil || !strings.Contains(err.Error(), "no DNS servers") {
		t.Errorf("no servers: %v", err)
	}
	srv := []netip.Addr{netip.MustParseAddr("10.0.0.2")}
	if _, err := ForTunnel("x", srv, nil, false); err == nil || !strings.Contains(err.Error(), "no domains") {
		t.Errorf("no domains: %v", err)
	}
	if _, err := ForTunnel("x", srv, []string{"a;b"}, false); err == nil || !strings.Contains(err.Error(), `"a;b"`) {
		t.Errorf("bad domain: %v", err)
	}
}
