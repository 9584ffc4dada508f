package scutil

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// Output of `scutil <<< "show State:/Network/Service/<id>/DNS"` on a Mac
// on a DHCP network.
const dhcpDNS = `<dictionary> {
  DomainName : home.example
  SearchDomains : <array> {
    0 : home.example
  }
  ServerAddresses : <array> {
    0 : 192.168.1.1
    1 : fd00::1
  }
  SearchOrder : 1
}
`

const globalIPv4 = `<dictionary> {
  PrimaryInterface : en0
  PrimaryService : 8A1B3C4D-0000-4E5F-9A8B-1C2D3E4F5A6B
  Router : 192.168.1.1
}
`

func TestParse(t *testing.T) {
	d, err := Parse(dhcpDNS)
	if err != nil {
		t.Fatal(err)
	}
	want := Dict{
		Scalars: map[string]string{"DomainName": "home.example", "SearchOrder": "1"},
		Arrays: map[string][]string{
			"SearchDomains":   {"home.example"},
			"ServerAddresses": {"192.168.1.1", "fd00::1"},
		},
	}
	if !d.Equal(want) {
		t.Fatalf("got %+v\nwant %+v", d, want)
	}
	g, err := Parse(globalIPv4)
	if err != nil {
		t.Fatal(err)
	}
	id, err := PrimaryService(g)
	if err != nil || id != "8A1B3C4D-0000-4E5F-9A8B-1C2D3E4F5A6B" {
		t.Fatalf("primary %q %v", id, err)
	}
}

func TestParseNoKeyAndErrors(t *testing.T) {
	if _, err := Parse("  No such key\n"); !errors.Is(err, ErrNoKey) {
		t.Errorf("no such key: %v", err)
	}
	for _, c := range []struct{ out, want string }{
		{"garbage\n", `line 1: "garbage"`},
		{"<dictionary> {\n  A : <array> {\n    1 : x\n  }\n}\n", "line 3: \"1 : x\" is not element 0 of A"},
		{"<dictionary> {\n  A : <dictionary> {\n", "nested dictionary A"},
		{"<dictionary> {\n  A : 1\n", "ends inside the dictionary"},
		{"<dictionary> {\n  A\n}\n", `line 2: "A" is not "key : value"`},
	} {
		if _, err := Parse(c.out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want %q", c.out, err, c.want)
		}
	}
	if _, err := PrimaryService(Dict{}); err == nil {
		t.Error("PrimaryService of empty dict")
	}
}

func TestSetScript(t *testing.T) {
	d := DNSDict([]netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00:ec2::253")},
		[]string{"corp.example", "ec2.internal"}, []string{"corp.example", "ec2.internal"})
	got, err := SetScript(DNSKey("cvpn-utun4"), d)
	if err != nil {
		t.Fatal(err)
	}
	want := "d.init\n" +
		"d.add SearchDomains * corp.example ec2.internal\n" +
		"d.add ServerAddresses * 10.0.0.2 fd00:ec2::253\n" +
		"d.add SupplementalMatchDomains * corp.example ec2.internal\n" +
		"set State:/Network/Service/cvpn-utun4/DNS\n"
	if got != want {
		t.Fatalf("script\n%s\nwant\n%s", got, want)
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	// Restoring a parsed dictionary writes numbers with "#".
	d, err := Parse(dhcpDNS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := SetScript(DNSKey("X"), d)
	if err != nil {
		t.Fatal(err)
	}
	want := "d.init\n" +
		"d.add DomainName home.example\n" +
		"d.add SearchDomains * home.example\n" +
		"d.add SearchOrder # 1\n" +
		"d.add ServerAddresses * 192.168.1.1 fd00::1\n" +
		"set State:/Network/Service/X/DNS\n"
	if got != want {
		t.Fatalf("script\n%s\nwant\n%s", got, want)
	}
}

func TestScriptRejectsInjection(t *testing.T) {
	d := DNSDict(nil, []string{"corp.example\nremove State:/Network/Global/IPv4"}, nil)
	if _, err := SetScript(DNSKey("x"), d); err == nil || !strings.Contains(err.Error(), "SearchDomains value") {
		t.Fatalf("injection accepted: %v", err)
	}
	if _, err := RemoveScript("State:/a b"); err == nil {
		t.Fatal("key with space accepted")
	}
	if s, err := ShowScript(GlobalIPv4); err != nil || s != "show State:/Network/Global/IPv4\n" {
		t.Fatalf("show: %q %v", s, err)
	}
}
