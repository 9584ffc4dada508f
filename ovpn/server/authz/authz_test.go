package authz

import (
	"net/netip"
	"testing"
)

func TestLongestPrefixAndDefaultLast(t *testing.T) {
	p := netip.MustParsePrefix
	// The 0.0.0.0/0 rule comes first in the list but is evaluated last.
	tab := New([]Rule{
		{Destination: p("0.0.0.0/0")},
		{Destination: p("10.0.0.0/16"), Group: "eng"},
		{Destination: p("10.0.2.0/24"), Group: "ops"},
		{Destination: p("10.0.3.0/24"), Group: "ops"},
		{Destination: p("10.0.3.0/24"), Group: "eng"},
		{Destination: p("172.16.0.0/12"), Group: ""},
	})
	cases := []struct {
		dst    string
		groups []string
		want   bool
		rule   string
	}{
		{"8.8.8.8", nil, true, "0.0.0.0/0"},
		{"10.0.1.1", []string{"eng"}, true, "10.0.0.0/16"},
		{"10.0.1.1", []string{"ops"}, false, "10.0.0.0/16"}, // /16 decides, /0 does not rescue
		{"10.0.2.1", []string{"eng"}, false, "10.0.2.0/24"}, // more specific ops rule wins over eng /16
		{"10.0.2.1", []string{"ops"}, true, "10.0.2.0/24"},
		{"10.0.3.9", []string{"eng"}, true, "10.0.3.0/24"},
		{"10.0.3.9", []string{"x", "ops"}, true, "10.0.3.0/24"},
		{"172.20.0.1", nil, true, "172.16.0.0/12"},
	}
	for _, c := range cases {
		d := tab.Check(netip.MustParseAddr(c.dst), c.groups)
		if d.Allowed != c.want || d.Rule.String() != c.rule {
			t.Errorf("%s %v: %+v, want allowed=%v by %s", c.dst, c.groups, d, c.want, c.rule)
		}
	}
}

func TestNoMatchDenies(t *testing.T) {
	tab := New([]Rule{{Destination: netip.MustParsePrefix("10.0.0.0/8")}})
	if d := tab.Check(netip.MustParseAddr("192.168.1.1"), []string{"eng"}); d.Allowed || d.Rule.IsValid() {
		t.Errorf("unmatched destination: %+v", d)
	}
	if New(nil).Allowed(netip.MustParseAddr("10.0.0.1"), nil) {
		t.Error("empty table allows")
	}
}
