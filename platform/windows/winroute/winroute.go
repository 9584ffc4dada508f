package winroute

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cvpn/cvpn/routing"
)

// Windows route protocols (NL_ROUTE_PROTOCOL) named here.
const (
	ProtoOther         = 1
	ProtoLocal         = 2
	ProtoNetMgmt       = 3
	ProtoNTAutostatic  = 10002
	ProtoNTStatic      = 10006
	ProtoNTStaticNoDOD = 10007
)

// Row mirrors the fields of MIB_IPFORWARD_ROW2 that describe a route.
type Row struct {
	LUID                 uint64
	Index                uint32
	Dst                  netip.Prefix
	NextHop              netip.Addr // unspecified (0.0.0.0, ::) for on-link routes
	SitePrefixLength     uint8
	Metric               uint32
	Protocol             uint32
	Loopback             bool
	AutoconfigureAddress bool
	Publish              bool
	Immortal             bool
	Origin               uint32
}

// Bits of routing.Route.Flags on Windows: the booleans of the row, its
// origin in bits 8-15 and its site prefix length in bits 16-23.
const (
	FlagLoopback      = 0x1
	FlagAutoconfigure = 0x2
	FlagPublish       = 0x4
	FlagImmortal      = 0x8
)

// ProtoFromWindows maps a Windows route protocol into routing.Route's byte:
// the RFC 4292 values (1-14) as they are, the NT values 10002-10007 to
// 242-247. Other values give 0.
func ProtoFromWindows(p uint32) uint8 {
	switch {
	case p <= 0x9b:
		return uint8(p)
	case p >= 10000 && p <= 10015:
		return uint8(240 + p - 10000)
	}
	return 0
}

// ProtoToWindows is the inverse of ProtoFromWindows; 0 for a byte that is
// no Windows protocol (such as ProtoCVPN).
func ProtoToWindows(p uint8) uint32 {
	switch {
	case p >= 240:
		return 10000 + uint32(p-240)
	case p <= 0x9b:
		return uint32(p)
	}
	return 0
}

// Locals are the unicast addresses of the host with their on-link prefix
// (MIB_UNICASTIPADDRESS_ROW Address and OnLinkPrefixLength).
type Locals []netip.Prefix

var (
	multicast4 = netip.MustParsePrefix("224.0.0.0/4")
	multicast6 = netip.MustParsePrefix("ff00::/8")
	limitedBC  = netip.MustParseAddr("255.255.255.255")
)

// Type returns the route type of a destination: TypeLocal for a host
// prefix of one of the host's addresses or a loopback route, TypeBroadcast
// for the limited broadcast and the directed broadcast of a local IPv4
// subnet, TypeMulticast for multicast prefixes, otherwise TypeUnicast.
// Windows lists all of these in its one routing table.
func Type(dst netip.Prefix, loopback bool, locals Locals) uint8 {
	a := dst.Addr()
	switch {
	case multicast4.Contains(a) && dst.Bits() >= 4, multicast6.Contains(a) && dst.Bits() >= 8:
		return routing.TypeMulticast
	case !dst.IsSingleIP():
		return routing.TypeUnicast
	case a == limitedBC:
		return routing.TypeBroadcast
	case loopback && a.IsLoopback():
		return routing.TypeLocal
	}
	for _, l := range locals {
		if l.Addr() == a {
			return routing.TypeLocal
		}
		if a.Is4() && l.Addr().Is4() && l.Bits() < 31 && a == broadcast(l) {
			return routing.TypeBroadcast
		}
	}
	return routing.TypeUnicast
}

// broadcast returns the directed broadcast address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}

// ToRoute converts a row. name returns the interface name (alias) of an
// index, or "".
func ToRoute(row Row, name func(index uint32) string, locals Locals) routing.Route {
	r := routing.Route{
		Dst:      row.Dst.Masked(),
		IfIndex:  int(row.Index),
		Metric:   row.Metric,
		Protocol: ProtoFromWindows(row.Protocol),
		Type:     Type(row.Dst, row.Loopback, locals),
	}
	if name != nil {
		r.Interface = name(row.Index)
	}
	if row.NextHop.IsValid() && !row.NextHop.IsUnspecified() {
		r.Gateway = row.NextHop
	}
	if row.Loopback {
		r.Flags |= FlagLoopback
	}
	if row.AutoconfigureAddress {
		r.Flags |= FlagAutoconfigure
	}
	if row.Publish {
		r.Flags |= FlagPublish
	}
	if row.Immortal {
		r.Flags |= FlagImmortal
	}
	r.Flags |= (row.Origin & 0xff) << 8
	r.Flags |= uint32(row.SitePrefixLength) << 16
	return r
}

// FromRoute builds the row that adds or deletes r on interface luid/index.
// The next hop is the unspecified address of the family for on-link
// routes; Protocol is the Windows protocol of r, or NetMgmt (what the API
// gives routes a program adds) when r carries none.
func FromRoute(r routing.Route, luid uint64, index uint32) (Row, error) {
	if !r.Dst.IsValid() {
		return Row{}, errors.New("winroute: route without destination")
	}
	if len(r.Hops) > 0 {
		return Row{}, fmt.Errorf("winroute: route %s: multipath routes are separate rows on Windows", r.Dst)
	}
	dst := r.Dst.Masked()
	row := Row{
		LUID: luid, Index: index, Dst: dst, Metric: r.Metric,
		Loopback:             r.Flags&FlagLoopback != 0,
		AutoconfigureAddress: r.Flags&FlagAutoconfigure != 0,
		Publish:              r.Flags&FlagPublish != 0,
		Immortal:             r.Flags&FlagImmortal != 0,
		Origin:               (r.Flags >> 8) & 0xff,
		SitePrefixLength:     uint8(r.Flags >> 16),
		Protocol:             ProtoToWindows(r.Protocol),
	}
	if row.Protocol == 0 {
		row.Protocol = ProtoNetMgmt
	}
	if int(row.SitePrefixLength) > dst.Bits() {
		row.SitePrefixLength = 0
	}
	switch {
	case r.Gateway.IsValid():
		gw := r.Gateway.Unmap()
		if gw.Is4() != dst.Addr().Is4() {
			return Row{}, fmt.Errorf("winroute: route %s: gateway %s of the other family", dst, r.Gateway)
		}
		row.NextHop = gw
	case dst.Addr().Is4():
		row.NextHop = netip.IPv4Unspecified()
	default:
		row.NextHop = netip.IPv6Unspecified()
	}
	return row, nil
}

// SameRoute reports whether two rows are the same route for the API (its
// key: interface, destination, next hop).
func SameRoute(a, b Row) bool {
	return a.LUID == b.LUID && a.Dst.Masked() == b.Dst.Masked() && a.NextHop.WithZone("") == b.NextHop.WithZone("")
}

// BestRoute returns the route Windows would use for dst: the longest
// matching prefix, and among those the lowest route metric plus interface
// metric (ifMetric of the route's interface index and family). Local,
// broadcast and multicast entries take part like Windows does (a host's own
// address resolves to its host route).
func BestRoute(routes []routing.Route, ifMetric func(index int, v6 bool) uint32, dst netip.Addr) (routing.Route, bool) {
	dst = dst.Unmap()
	var best *routing.Route
	var bestMetric uint64
	for i := range routes {
		r := &routes[i]
		if !r.Dst.Contains(dst) {
			continue
		}
		m := uint64(r.Metric)
		if ifMetric != nil {
			m += uint64(ifMetric(r.IfIndex, r.Is6()))
		}
		if best == nil || r.Dst.Bits() > best.Dst.Bits() || r.Dst.Bits() == best.Dst.Bits() && m < bestMetric {
			best, bestMetric = r, m
		}
	}
	if best == nil {
		return routing.Route{}, false
	}
	return *best, true
}

// InterfacePrefix returns the prefix to assign for an address: the address
// with its prefix, or, for a point-to-point address (a host prefix with a
// peer, OpenVPN net30 and p2p), the smallest prefix holding both, which is
// what OpenVPN configures on Windows where TUN adapters are not
// point-to-point.
func InterfacePrefix(p netip.Prefix, peer netip.Addr) netip.Prefix {
	if !peer.IsValid() || !p.IsSingleIP() {
		return p
	}
	a := p.Addr()
	for bits := a.BitLen() - 1; bits > 0; bits-- {
		q := netip.PrefixFrom(a, bits).Masked()
		if q.Contains(peer) {
			return netip.PrefixFrom(a, bits)
		}
	}
	return netip.PrefixFrom(a, 0)
}

// ResolveName turns a name pattern ending in "%d" into the first name not
// taken (exists false), trying 0 to 99. Other names are returned as given.
func ResolveName(pattern string, exists func(string) bool) (string, error) {
	base, ok := strings.CutSuffix(pattern, "%d")
	if !ok {
		if strings.Contains(pattern, "%") {
			return "", fmt.Errorf("winroute: interface name %q: only a trailing %%d is supported", pattern)
		}
		return pattern, nil
	}
	for i := 0; i < 100; i++ {
		n := fmt.Sprintf("%s%d", base, i)
		if !exists(n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("winroute: interface name %q: %s0 to %s99 are all taken", pattern, base, base)
}
