package netmask

import (
	"net/netip"
	"testing"
)

func TestBits(t *testing.T) {
	for _, c := range []struct {
		mask string
		bits int
		ok   bool
	}{
		{"255.255.255.0", 24, true}, {"0.0.0.0", 0, true}, {"255.255.255.255", 32, true},
		{"255.255.255.252", 30, true}, {"128.0.0.0", 1, true},
		{"255.0.255.0", 0, false}, {"0.0.0.1", 0, false}, {"255.255.255.253", 0, false},
		{"ffff:ffff:ffff:ff80::", 57, true}, {"::", 0, true}, {"ffff::1", 0, false},
	} {
		b, ok := Bits(netip.MustParseAddr(c.mask))
		if b != c.bits || ok != c.ok {
			t.Errorf("Bits(%s) = %d,%v want %d,%v", c.mask, b, ok, c.bits, c.ok)
		}
	}
	if _, ok := Bits(netip.Addr{}); ok {
		t.Error("Bits of the zero Addr reported a mask")
	}
}
