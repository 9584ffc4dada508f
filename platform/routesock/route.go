package routesock

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cvpn/cvpn/internal/netmask"
	"github.com/cvpn/cvpn/routing"
)

// Proto is the routing.Route Protocol of routes carrying RTF_PROTO1, the
// flag cvpn puts on the routes it adds on macOS. It equals
// routing.ProtoCVPN.
const Proto = routing.ProtoCVPN

// ScopedTable is the routing.Route Table of interface-scoped routes
// (RTF_IFSCOPE): ScopedTable + interface index. macOS keeps them apart from
// the main table (a default route per interface for scoped sockets), so
// they are reported outside the main table and route enforcement, which
// covers the main table only, leaves them alone.
const ScopedTable = 1 << 16

// stableFlags are the route flags kept in routing.Route.Flags: those that
// describe the route rather than the kernel's bookkeeping (RTF_DONE,
// RTF_IFREF, RTF_CONDEMNED, RTF_DEAD ... change without the route
// changing).
const stableFlags = FlagUp | FlagGateway | FlagHost | FlagReject | FlagDynamic | FlagModified |
	FlagCloning | FlagXResolve | FlagLLInfo | FlagStatic | FlagBlackhole | FlagProto1 | FlagProto2 |
	FlagProto3 | FlagPRCloning | FlagPinned | FlagLocal | FlagBroadcast | FlagMulticast | FlagIfScope

// settableFlags are the flags an RTM_ADD may carry.
const settableFlags = FlagUp | FlagGateway | FlagHost | FlagReject | FlagDynamic | FlagModified |
	FlagCloning | FlagXResolve | FlagStatic | FlagBlackhole | FlagProto1 | FlagProto2 | FlagProto3 |
	FlagPRCloning | FlagIfScope

// Route types of routing.Route used here (Linux rtm_type values).
const (
	typeUnicast     = routing.TypeUnicast
	typeLocal       = routing.TypeLocal
	typeBroadcast   = routing.TypeBroadcast
	typeMulticast   = routing.TypeMulticast
	typeBlackhole   = routing.TypeBlackhole
	typeUnreachable = routing.TypeUnreachable
)

var (
	multicast4 = netip.MustParsePrefix("224.0.0.0/4")
	multicast6 = netip.MustParsePrefix("ff00::/8")
)

// IsCache reports whether a message describes a cloned cache entry rather
// than a configured route: ARP and neighbour entries (RTF_LLINFO) and
// host routes cloned from a network route (RTF_WASCLONED). They come and
// go with traffic and vanish with their parent route, so the route table
// seen by cvpn leaves them out.
func (m *Message) IsCache() bool {
	return m.Flags&(FlagLLInfo|FlagWasCloned) != 0
}

// Mask returns the netmask of a prefix length for IPv4 (is6 false) or IPv6.
func Mask(bits int, is6 bool) netip.Addr {
	n := 4
	if is6 {
		n = 16
	}
	b := make([]byte, n)
	for i := 0; i < bits && i < 8*n; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ToRoute converts a route message. name resolves interface indexes (it
// may be nil). It returns false for messages that are not IPv4 or IPv6
// routes, have a non-contiguous netmask, or are cache entries (IsCache).
func (m *Message) ToRoute(name func(int) string) (routing.Route, bool) {
	dst := m.Addrs[AxDst]
	if dst == nil || (dst.Family != AFInet && dst.Family != AFInet6) || m.IsCache() {
		return routing.Route{}, false
	}
	addr := dst.Addr.WithZone("")
	bits := addr.BitLen()
	if m.Flags&FlagHost == 0 {
		if nm := m.Addrs[AxNetmask]; nm != nil && nm.Addr.IsValid() {
			b, ok := netmask.Bits(nm.Addr)
			if !ok || b > bits {
				return routing.Route{}, false
			}
			bits = b
		}
	}
	r := routing.Route{
		Dst:     netip.PrefixFrom(addr, bits).Masked(),
		IfIndex: int(m.Index),
		Flags:   m.Flags & stableFlags,
		Type:    typeUnicast,
	}
	if gw := m.Addrs[AxGateway]; gw != nil {
		switch gw.Family {
		case AFInet, AFInet6:
			if m.Flags&FlagGateway != 0 {
				r.Gateway = gw.Addr
			}
		case AFLink:
			if r.IfIndex == 0 {
				r.IfIndex = int(gw.Index)
			}
			if r.Interface == "" {
				r.Interface = gw.Name
			}
		}
	}
	if ifp := m.Addrs[AxIFP]; ifp != nil && ifp.Family == AFLink && ifp.Name != "" {
		r.Interface = ifp.Name
	}
	if name != nil && r.IfIndex != 0 {
		if n := name(r.IfIndex); n != "" {
			r.Interface = n
		}
	}
	if ifa := m.Addrs[AxIFA]; ifa != nil && (ifa.Family == AFInet || ifa.Family == AFInet6) {
		r.Src = ifa.Addr
	}
	if m.Flags&FlagProto1 != 0 {
		r.Protocol = Proto
	}
	if m.Flags&FlagIfScope != 0 {
		r.Table = ScopedTable + uint32(m.Index)
	}
	switch {
	case m.Flags&FlagLocal != 0:
		r.Type = typeLocal
	case m.Flags&FlagBroadcast != 0:
		r.Type = typeBroadcast
	case m.Flags&FlagMulticast != 0 || multicast4.Contains(addr) || multicast6.Contains(addr):
		r.Type = typeMulticast
	case m.Flags&FlagBlackhole != 0:
		r.Type = typeBlackhole
	case m.Flags&FlagReject != 0:
		r.Type = typeUnreachable
	}
	return r, true
}

// inetSockaddr returns the socket address of an IP address.
func inetSockaddr(a netip.Addr) *Sockaddr {
	if a.Is4() || a.Is4In6() {
		return &Sockaddr{Family: AFInet, Addr: a.Unmap()}
	}
	return &Sockaddr{Family: AFInet6, Addr: a}
}

// FromRoute builds an RTM_ADD (typ TypeAdd), RTM_DELETE or RTM_CHANGE
// message for r. ifindex is r's interface index, resolved by the caller
// when r names only the interface. A route with a gateway is sent with
// RTF_GATEWAY; one without goes to the interface (an AF_LINK gateway with
// the index). Protocol Proto sets RTF_PROTO1, a ScopedTable table sets
// RTF_IFSCOPE. Every request carries RTF_UP and RTF_STATIC.
func FromRoute(typ uint8, r routing.Route, ifindex int, seq int32) (*Message, error) {
	if !r.Dst.IsValid() {
		return nil, errors.New("routesock: route without destination")
	}
	if len(r.Hops) > 0 {
		return nil, fmt.Errorf("routesock: route %s: macOS has no multipath routes", r.Dst)
	}
	if ifindex < 0 || ifindex > 0xffff {
		return nil, fmt.Errorf("routesock: route %s: interface index %d out of range", r.Dst, ifindex)
	}
	dst := r.Dst.Masked()
	m := &Message{
		Type:  typ,
		Seq:   seq,
		Flags: r.Flags&settableFlags | FlagUp | FlagStatic,
	}
	m.Addrs[AxDst] = inetSockaddr(dst.Addr())
	if dst.IsSingleIP() {
		m.Flags |= FlagHost
	} else {
		m.Flags &^= FlagHost
		m.Addrs[AxNetmask] = inetSockaddr(Mask(dst.Bits(), dst.Addr().Is6()))
	}
	switch {
	case r.Gateway.IsValid():
		if r.Gateway.Unmap().Is4() != dst.Addr().Is4() {
			return nil, fmt.Errorf("routesock: route %s: gateway %s of the other family", dst, r.Gateway)
		}
		m.Addrs[AxGateway] = inetSockaddr(r.Gateway)
		m.Flags |= FlagGateway
	case ifindex != 0:
		m.Addrs[AxGateway] = &Sockaddr{Family: AFLink, Index: uint16(ifindex)}
		m.Flags &^= FlagGateway
	default:
		m.Flags &^= FlagGateway
		if typ == TypeAdd {
			return nil, fmt.Errorf("routesock: route %s: neither gateway nor interface", dst)
		}
	}
	if r.Protocol == Proto {
		m.Flags |= FlagProto1
	}
	if r.Table >= ScopedTable {
		m.Flags |= FlagIfScope
		m.Index = uint16(r.Table - ScopedTable)
	} else {
		m.Flags &^= FlagIfScope
	}
	switch r.Type {
	case typeBlackhole:
		m.Flags |= FlagBlackhole
	case typeUnreachable:
		m.Flags |= FlagReject
	}
	return m, nil
}

// GetRequest builds an RTM_GET for the route the kernel would use to reach
// dst, asking for the interface (RTA_IFP) and source address in the reply.
func GetRequest(dst netip.Addr, seq int32) *Message {
	m := &Message{Type: TypeGet, Seq: seq, Flags: FlagUp | FlagHost}
	m.Addrs[AxDst] = inetSockaddr(dst)
	m.Addrs[AxIFP] = &Sockaddr{Family: AFLink}
	return m
}

// Hop is the answer to an RTM_GET.
type Hop struct {
	Gateway netip.Addr // zero when the destination is on-link
	IfIndex int
	IfName  string
	Src     netip.Addr
	// Local is true when the destination is an address of this machine.
	Local bool
}

// HopFromReply decodes the reply to GetRequest.
func HopFromReply(m *Message) (Hop, error) {
	if m.Type != TypeGet {
		return Hop{}, fmt.Errorf("routesock: reply of type %d, want RTM_GET", m.Type)
	}
	if m.Errno != 0 {
		return Hop{}, fmt.Errorf("routesock: RTM_GET failed with errno %d", m.Errno)
	}
	h := Hop{IfIndex: int(m.Index)}
	if gw := m.Addrs[AxGateway]; gw != nil {
		switch gw.Family {
		case AFInet, AFInet6:
			if m.Flags&FlagGateway != 0 {
				h.Gateway = gw.Addr
			}
		case AFLink:
			if h.IfIndex == 0 {
				h.IfIndex = int(gw.Index)
			}
		}
	}
	if ifp := m.Addrs[AxIFP]; ifp != nil && ifp.Family == AFLink {
		h.IfName = ifp.Name
		if h.IfIndex == 0 {
			h.IfIndex = int(ifp.Index)
		}
	}
	if ifa := m.Addrs[AxIFA]; ifa != nil && (ifa.Family == AFInet || ifa.Family == AFInet6) {
		h.Src = ifa.Addr
	}
	h.Local = m.Flags&FlagLocal != 0 || len(h.IfName) >= 2 && h.IfName[:2] == "lo"
	return h, nil
}
