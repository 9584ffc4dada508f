package netmask

import "net/netip"

// Bits returns the prefix length of a contiguous IPv4 or IPv6 netmask
// (255.255.255.0 is 24). It returns false for an invalid address and for a
// mask whose one bits are not all leading (255.0.255.0).
func Bits(mask netip.Addr) (int, bool) {
	if !mask.IsValid() {
		return 0, false
	}
	bits := 0
	seenZero := false
	for _, x := range mask.AsSlice() {
		for i := 7; i >= 0; i-- {
			if x&(1<<i) == 0 {
				seenZero = true
				continue
			}
			if seenZero {
				return 0, false
			}
			bits++
		}
	}
	return bits, true
}
