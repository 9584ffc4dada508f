package routing

import (
	"net/netip"
	"slices"
)

// Canonical returns p with the host bits cleared. An IPv4-mapped IPv6 prefix
// (::ffff:a.b.c.d/n with n >= 96) becomes the equivalent IPv4 prefix. An
// invalid prefix is returned unchanged.
func Canonical(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return p
	}
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// PrefixContains reports whether inner lies inside outer: both are of the
// same family and inner is equal to or more specific than outer.
func PrefixContains(outer, inner netip.Prefix) bool {
	outer, inner = Canonical(outer), Canonical(inner)
	if !outer.IsValid() || !inner.IsValid() {
		return false
	}
	if outer.Addr().Is4() != inner.Addr().Is4() {
		return false
	}
	return inner.Bits() >= outer.Bits() && outer.Contains(inner.Addr())
}

// PrefixOverlaps reports whether a and b share at least one address.
func PrefixOverlaps(a, b netip.Prefix) bool {
	a, b = Canonical(a), Canonical(b)
	if !a.IsValid() || !b.IsValid() {
		return false
	}
	return a.Overlaps(b)
}

// HostPrefix returns the /32 or /128 prefix of a single address.
func HostPrefix(a netip.Addr) netip.Prefix {
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

// Set is an immutable set of canonical prefixes of both families with fast
// containment queries: a lookup costs one map probe per distinct prefix
// length in the set. The zero Set is empty and usable.
type Set struct {
	members map[netip.Prefix]struct{}
	// lens4 and lens6 are the distinct prefix lengths present, longest first.
	lens4, lens6 []int
}

// NewSet builds a Set from prefixes. Prefixes are canonicalised and
// duplicates collapse; invalid prefixes are dropped.
func NewSet(prefixes ...netip.Prefix) Set {
	s := Set{members: make(map[netip.Prefix]struct{}, len(prefixes))}
	for _, p := range prefixes {
		p = Canonical(p)
		if !p.IsValid() {
			continue
		}
		if _, dup := s.members[p]; dup {
			continue
		}
		s.members[p] = struct{}{}
		if p.Addr().Is4() {
			if !slices.Contains(s.lens4, p.Bits()) {
				s.lens4 = append(s.lens4, p.Bits())
			}
		} else if !slices.Contains(s.lens6, p.Bits()) {
			s.lens6 = append(s.lens6, p.Bits())
		}
	}
	desc := func(a, b int) int { return b - a }
	slices.SortFunc(s.lens4, desc)
	slices.SortFunc(s.lens6, desc)
	return s
}

// Len returns the number of prefixes in the set.
func (s Set) Len() int { return len(s.members) }

// Prefixes returns the members sorted by family (IPv4 first), address and
// length.
func (s Set) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.members))
	for p := range s.members {
		out = append(out, p)
	}
	slices.SortFunc(out, comparePrefix)
	return out
}

// Has reports whether p (canonicalised) is itself a member.
func (s Set) Has(p netip.Prefix) bool {
	_, ok := s.members[Canonical(p)]
	return ok
}

// Covering returns the most specific member that contains p (equal to or
// less specific than p), and whether there is one.
func (s Set) Covering(p netip.Prefix) (netip.Prefix, bool) {
	p = Canonical(p)
	if !p.IsValid() || len(s.members) == 0 {
		return netip.Prefix{}, false
	}
	lens := s.lens6
	if p.Addr().Is4() {
		lens = s.lens4
	}
	for _, l := range lens {
		if l > p.Bits() {
			continue
		}
		c := netip.PrefixFrom(p.Addr(), l).Masked()
		if _, ok := s.members[c]; ok {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// Covers reports whether some member contains p.
func (s Set) Covers(p netip.Prefix) bool {
	_, ok := s.Covering(p)
	return ok
}

// ContainsAddr reports whether some member contains the address a.
func (s Set) ContainsAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	return s.Covers(HostPrefix(a))
}

// Overlaps reports whether p shares at least one address with a member:
// either a member contains p or p contains a member.
func (s Set) Overlaps(p netip.Prefix) bool {
	p = Canonical(p)
	if !p.IsValid() {
		return false
	}
	if s.Covers(p) {
		return true
	}
	for m := range s.members {
		if PrefixContains(p, m) {
			return true
		}
	}
	return false
}

// Union returns a new Set holding the members of s and o.
func (s Set) Union(o Set) Set {
	all := make([]netip.Prefix, 0, s.Len()+o.Len())
	for p := range s.members {
		all = append(all, p)
	}
	for p := range o.members {
		all = append(all, p)
	}
	return NewSet(all...)
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// IgnoredNetworks returns the networks client route enforcement never
// touches: IPv4 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4,
// 255.255.255.255/32 and IPv6 ::1/128, fe80::/10, ff00::/8. A route whose
// destination lies inside one of them never conflicts.
func IgnoredNetworks() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("255.255.255.255/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("ff00::/8"),
	}
}
