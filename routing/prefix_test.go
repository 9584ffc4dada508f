package routing

import (
	"net/netip"
	"testing"
)

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"10.1.2.3/32", "10.1.2.3/32"},
		{"::ffff:10.1.2.3/104", "10.0.0.0/8"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"fe80::1%eth0/64", "fe80::/64"},
	} {
		var in netip.Prefix
		if a, bits, ok := cutZone(tc.in); ok {
			in = netip.PrefixFrom(a, bits)
		} else {
			in = pfx(tc.in)
		}
		if got := Canonical(in); got != pfx(tc.want) {
			t.Errorf("Canonical(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := Canonical(netip.Prefix{}); got.IsValid() {
		t.Errorf("Canonical(invalid) = %s, want invalid", got)
	}
}

// cutZone builds a prefix whose address carries a zone, which ParsePrefix
// refuses.
func cutZone(s string) (netip.Addr, int, bool) {
	if s != "fe80::1%eth0/64" {
		return netip.Addr{}, 0, false
	}
	return addr("fe80::1%eth0"), 64, true
}

func TestPrefixContainsAndOverlaps(t *testing.T) {
	for _, tc := range []struct {
		outer, inner       string
		contains, overlaps bool
	}{
		{"172.31.0.0/16", "172.31.1.0/24", true, true},
		{"172.31.0.0/16", "172.31.0.0/16", true, true},
		{"172.31.1.0/24", "172.31.0.0/16", false, true},
		{"172.31.0.0/16", "172.32.0.0/16", false, false},
		{"0.0.0.0/0", "::/0", false, false},
		{"::/0", "2001:db8::/32", true, true},
		{"0.0.0.0/1", "0.0.0.0/0", false, true},
		{"128.0.0.0/1", "127.0.0.0/8", false, false},
	} {
		if got := PrefixContains(pfx(tc.outer), pfx(tc.inner)); got != tc.contains {
			t.Errorf("PrefixContains(%s, %s) = %v, want %v", tc.outer, tc.inner, got, tc.contains)
		}
		if got := PrefixOverlaps(pfx(tc.outer), pfx(tc.inner)); got != tc.overlaps {
			t.Errorf("PrefixOverlaps(%s, %s) = %v, want %v", tc.outer, tc.inner, got, tc.overlaps)
		}
	}
	if PrefixContains(netip.Prefix{}, pfx("10.0.0.0/8")) || PrefixOverlaps(pfx("10.0.0.0/8"), netip.Prefix{}) {
		t.Error("an invalid prefix contains or overlaps something")
	}
}

func TestSet(t *testing.T) {
	s := NewSet(pfx("10.0.0.0/8"), pfx("10.1.0.0/16"), pfx("10.1.2.3/16"), pfx("2001:db8::/32"), netip.Prefix{})
	if s.Len() != 3 {
		t.Fatalf("Len = %d, want 3 (duplicate after masking and invalid dropped)", s.Len())
	}
	want := []string{"10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"}
	if got := s.Prefixes(); !equalPrefixes(got, want) {
		t.Errorf("Prefixes = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		p     string
		cover string // "" = none
		overl bool
	}{
		{"10.1.5.0/24", "10.1.0.0/16", true},
		{"10.2.0.0/16", "10.0.0.0/8", true},
		{"10.0.0.0/8", "10.0.0.0/8", true},
		{"0.0.0.0/0", "", true},
		{"11.0.0.0/8", "", false},
		{"2001:db8:5::/48", "2001:db8::/32", true},
		{"2001:db9::/32", "", false},
		{"::/0", "", true},
	} {
		got, ok := s.Covering(pfx(tc.p))
		if tc.cover == "" {
			if ok {
				t.Errorf("Covering(%s) = %s, want none", tc.p, got)
			}
		} else if !ok || got != pfx(tc.cover) {
			t.Errorf("Covering(%s) = %s, %v; want %s", tc.p, got, ok, tc.cover)
		}
		if got := s.Overlaps(pfx(tc.p)); got != tc.overl {
			t.Errorf("Overlaps(%s) = %v, want %v", tc.p, got, tc.overl)
		}
	}
	if !s.ContainsAddr(addr("10.200.0.1")) || s.ContainsAddr(addr("11.0.0.1")) || !s.ContainsAddr(addr("::ffff:10.0.0.1")) {
		t.Error("ContainsAddr gives wrong answers")
	}
	if !s.Has(pfx("10.1.0.0/16")) || s.Has(pfx("10.2.0.0/16")) {
		t.Error("Has gives wrong answers")
	}
	var zero Set
	if zero.Covers(pfx("10.0.0.0/8")) || zero.Len() != 0 || zero.Overlaps(pfx("0.0.0.0/0")) {
		t.Error("zero Set is not empty")
	}
	u := zero.Union(s).Union(NewSet(pfx("192.168.0.0/16")))
	if u.Len() != 4 || !u.Covers(pfx("192.168.1.0/24")) {
		t.Errorf("Union = %v", u.Prefixes())
	}
}

func TestIgnoredNetworks(t *testing.T) {
	ign := NewSet(IgnoredNetworks()...)
	for _, a := range []string{"127.0.0.1", "169.254.169.254", "224.0.0.251", "239.255.255.250", "255.255.255.255", "::1", "fe80::1", "ff02::1"} {
		if !ign.ContainsAddr(addr(a)) {
			t.Errorf("%s is not ignored", a)
		}
	}
	for _, a := range []string{"128.0.0.1", "169.253.0.1", "240.0.0.1", "255.255.255.254", "::2", "fec0::1", "fd00::1"} {
		if ign.ContainsAddr(addr(a)) {
			t.Errorf("%s is ignored", a)
		}
	}
}
