package routesock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"golang.org/x/net/route"
)

// Marshal encodes m with golang.org/x/net/route: the header, then the
// present socket addresses in RTAX order. IPv4 and IPv6 addresses are the
// library's; a link-local IPv6 address carries its zone in the KAME form
// the kernel expects (bytes 2 and 3); AF_LINK addresses are written with
// linkSockaddr (see the package documentation for why).
func (m *Message) Marshal() ([]byte, error) {
	rm := &route.RouteMessage{
		Version: Version,
		Type:    int(m.Type),
		Flags:   int(m.Flags),
		Index:   int(m.Index),
		ID:      uintptr(uint32(m.PID)),
		Seq:     int(m.Seq),
		Addrs:   make([]route.Addr, axMax),
	}
	for i, sa := range m.Addrs {
		if sa == nil {
			continue
		}
		a, err := sa.toLib()
		if err != nil {
			return nil, fmt.Errorf("routesock: address %d: %w", i, err)
		}
		rm.Addrs[i] = a
	}
	b, err := rm.Marshal()
	if err != nil {
		return nil, fmt.Errorf("routesock: type %d: %w", m.Type, err)
	}
	return b, nil
}

func (sa *Sockaddr) toLib() (route.Addr, error) {
	switch sa.Family {
	case AFInet:
		if !sa.Addr.Is4() {
			return nil, fmt.Errorf("AF_INET address %v is not IPv4", sa.Addr)
		}
		return &route.Inet4Addr{IP: sa.Addr.As4()}, nil
	case AFInet6:
		if !sa.Addr.Is6() {
			return nil, fmt.Errorf("AF_INET6 address %v is not IPv6", sa.Addr)
		}
		return &route.Inet6Addr{IP: toKAME(sa.Addr)}, nil
	case AFLink:
		raw := linkSockaddr(sa.Index, sa.Name)
		if raw == nil {
			return nil, fmt.Errorf("interface name %q too long", sa.Name)
		}
		return &route.DefaultAddr{Raw: raw}, nil
	}
	return nil, fmt.Errorf("unsupported address family %d", sa.Family)
}

// Parse decodes the route messages in b, a sequence of messages as read
// from the routing socket or returned by sysctl NET_RT_DUMP, with
// golang.org/x/net/route. Messages of other types (interface and address
// messages) and other versions are skipped. rtm_errno is read here from
// the header: the library reads it at the wrong offset on macOS
// (golang/go#70593).
func Parse(b []byte) ([]Message, error) {
	var out []Message
	le := binary.LittleEndian
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return out, fmt.Errorf("routesock: %d trailing bytes at offset %d", len(b)-off, off)
		}
		n := int(le.Uint16(b[off:]))
		if n < 4 || off+n > len(b) {
			return out, fmt.Errorf("routesock: message at offset %d: length %d, %d bytes left", off, n, len(b)-off)
		}
		raw := b[off : off+n]
		at := off
		off += n
		if raw[2] != Version || !isRouteType(raw[3]) {
			continue
		}
		if n < HeaderLen {
			return out, fmt.Errorf("routesock: message at offset %d: type %d: %d bytes, header needs %d", at, raw[3], n, HeaderLen)
		}
		msgs, err := route.ParseRIB(route.RIBTypeRoute, raw)
		if err == nil && len(msgs) != 1 {
			err = errors.New("not one route message")
		}
		var rm *route.RouteMessage
		if err == nil {
			var ok bool
			if rm, ok = msgs[0].(*route.RouteMessage); !ok {
				err = fmt.Errorf("message of type %T", msgs[0])
			}
		}
		if err != nil {
			return out, fmt.Errorf("routesock: message at offset %d: type %d: %w", at, raw[3], err)
		}
		m := Message{
			Type:  uint8(rm.Type),
			Index: uint16(rm.Index),
			Flags: uint32(rm.Flags),
			PID:   int32(rm.ID),
			Seq:   int32(rm.Seq),
			Errno: int32(le.Uint32(raw[24:])),
		}
		var dstFamily uint8
		for i := 0; i < axMax && i < len(rm.Addrs); i++ {
			if rm.Addrs[i] == nil {
				continue
			}
			m.Addrs[i] = fromLib(rm.Addrs[i], i, dstFamily)
			if i == AxDst {
				dstFamily = m.Addrs[i].Family
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// fromLib converts a decoded address. A netmask arrives as an address of
// the destination's family (the library reads shortened masks that way).
func fromLib(a route.Addr, index int, dstFamily uint8) *Sockaddr {
	switch a := a.(type) {
	case *route.Inet4Addr:
		return &Sockaddr{Family: AFInet, Addr: netip.AddrFrom4(a.IP)}
	case *route.Inet6Addr:
		addr := netip.AddrFrom16(a.IP)
		if a.ZoneID != 0 && (addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast()) {
			addr = addr.WithZone(strconv.Itoa(a.ZoneID))
		}
		return &Sockaddr{Family: AFInet6, Addr: addr}
	case *route.LinkAddr:
		return &Sockaddr{Family: AFLink, Index: uint16(a.Index), Name: a.Name}
	}
	if index == AxNetmask || index == AxGenmask {
		return &Sockaddr{Family: dstFamily}
	}
	return &Sockaddr{Family: uint8(a.Family())}
}

// isRouteType reports whether t is a message type with a rt_msghdr header.
func isRouteType(t uint8) bool {
	switch t {
	case TypeAdd, TypeDelete, TypeChange, TypeGet, TypeLosing, TypeRedirect, TypeMiss, TypeLock, TypeResolve:
		return true
	}
	return false
}
