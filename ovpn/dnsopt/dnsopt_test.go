package dnsopt

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func apply(t *testing.T, o *Options, pushed bool, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if err := o.Apply(strings.Fields(l), pushed); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
	}
}

func TestApplyGrammar(t *testing.T) {
	var o Options
	apply(t, &o, true,
		"server 1 address 198.51.100.1",
		"server 0 address 192.0.2.53 192.0.2.54:5353 [2001:db8::53]:853 2001:db8::54",
		"server 0 resolve-domains corp.example lab.example.",
		"server 0 dnssec optional",
		"server 0 transport DoT",
		"server 0 sni dns.corp.example",
		"search-domains corp.example",
		"search-domains b.example",
	)
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Options{
		SearchDomains: []string{"corp.example", "b.example"},
		Servers: []Server{
			{ID: 0, Addresses: []netip.AddrPort{
				netip.MustParseAddrPort("192.0.2.53:0"), netip.MustParseAddrPort("192.0.2.54:5353"),
				netip.MustParseAddrPort("[2001:db8::53]:853"), netip.MustParseAddrPort("[2001:db8::54]:0")},
				ResolveDomains: []string{"corp.example", "lab.example."}, DNSSEC: "optional", Transport: "DoT", SNI: "dns.corp.example"},
			{ID: 1, Addresses: []netip.AddrPort{netip.MustParseAddrPort("198.51.100.1:0")}},
		},
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
	if a, ok := o.Active(); !ok || a.ID != 0 {
		t.Errorf("Active = %+v %v, want server 0", a, ok)
	}
	// Lines round-trips.
	var back Options
	for _, l := range o.Lines() {
		apply(t, &back, true, strings.TrimPrefix(l, "dns "))
	}
	if !reflect.DeepEqual(back, o) {
		t.Errorf("Lines round trip:\n%q\ngot  %+v", o.Lines(), back)
	}
}

func TestApplyErrors(t *testing.T) {
	for _, tc := range []struct {
		line   string
		pushed bool
		want   string
	}{
		{"", true, "want `search-domains"},
		{"servers 0 address 1.2.3.4", true, `unknown keyword "servers"`},
		{"server -1 address 192.0.2.1", true, `server id "-1": want a number from 0 to 127`},
		{"server 128 address 192.0.2.1", false, `from -128 to 127`},
		{"server x address 192.0.2.1", false, `server id "x"`},
		{"server 0 address", true, "want `server N KEYWORD VALUE"},
		{"server 0 address 192.0.2.300", true, `"192.0.2.300" is not an address`},
		{"server 0 address 192.0.2.1:0", true, `port 0`},
		{"server 0 address fe80::1%eth0", true, `zone`},
		{"server 0 address 1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9", true, "more than 8 addresses"},
		{"server 0 resolve-domains bad..domain", true, `"bad..domain" is not a domain name`},
		{"server 0 dnssec maybe", true, `dnssec "maybe": want yes, optional or no`},
		{"server 0 transport DoQ", true, `transport "DoQ": want plain, DoH or DoT`},
		{"server 0 sni a b", true, "sni: want one value, got 2"},
		{"server 0 exclude-domains x.example", true, "removed in OpenVPN 2.7"},
		{"server 0 port 53", true, `unknown keyword "port"`},
		{"search-domains", true, "at least one domain"},
		{"search-domains ex ample!", true, `"ample!" is not a domain name`},
	} {
		var o Options
		err := o.Apply(strings.Fields(tc.line), tc.pushed)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tc.line, err, tc.want)
		}
	}
	var o Options
	apply(t, &o, false, "server -5 resolve-domains corp.example")
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "dns server -5 has no address") {
		t.Errorf("server without address: Validate = %v", err)
	}
}

func TestMerge(t *testing.T) {
	var base, pushed Options
	apply(t, &base, false, "server 0 address 10.0.0.1", "server 0 dnssec yes", "server 5 address 10.0.0.5", "search-domains local.example")
	apply(t, &pushed, true, "server 0 address 192.0.2.53", "search-domains corp.example")
	m := Merge(&base, &pushed)
	if got := m.Lines(); !reflect.DeepEqual(got, []string{
		"dns server 0 address 192.0.2.53", "dns server 5 address 10.0.0.5", "dns search-domains local.example corp.example"}) {
		t.Errorf("merged = %q (a pushed server replaces the whole group with its id; search domains add up)", got)
	}
	if len(base.Servers) != 2 || base.Servers[0].Addresses[0].Addr().String() != "10.0.0.1" {
		t.Errorf("Merge changed its input: %+v", base)
	}
}
