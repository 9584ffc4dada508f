package routesock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// Message types (rtm_type) of <net/route.h>.
const (
	TypeAdd      = 0x1
	TypeDelete   = 0x2
	TypeChange   = 0x3
	TypeGet      = 0x4
	TypeLosing   = 0x5
	TypeRedirect = 0x6
	TypeMiss     = 0x7
	TypeLock     = 0x8
	TypeResolve  = 0xb
)

// Version is RTM_VERSION, the only header version this package knows.
const Version = 5

// HeaderLen is sizeof(struct rt_msghdr): 36 bytes of header fields and a
// 56-byte struct rt_metrics.
const HeaderLen = 92

// Address bits of rtm_addrs, in the order the socket addresses follow the
// header.
const (
	RTADst     = 0x1
	RTAGateway = 0x2
	RTANetmask = 0x4
	RTAGenmask = 0x8
	RTAIFP     = 0x10
	RTAIFA     = 0x20
	RTAAuthor  = 0x40
	RTABrd     = 0x80
)

// Indexes into Message.Addrs (RTAX_*).
const (
	AxDst = iota
	AxGateway
	AxNetmask
	AxGenmask
	AxIFP
	AxIFA
	AxAuthor
	AxBrd
	axMax
)

// Route flags (rtm_flags, RTF_*) of macOS.
const (
	FlagUp        = 0x1
	FlagGateway   = 0x2
	FlagHost      = 0x4
	FlagReject    = 0x8
	FlagDynamic   = 0x10
	FlagModified  = 0x20
	FlagDone      = 0x40
	FlagDelClone  = 0x80
	FlagCloning   = 0x100
	FlagXResolve  = 0x200
	FlagLLInfo    = 0x400
	FlagStatic    = 0x800
	FlagBlackhole = 0x1000
	FlagNoIfRef   = 0x2000
	FlagProto2    = 0x4000
	FlagProto1    = 0x8000
	FlagPRCloning = 0x10000
	FlagWasCloned = 0x20000
	FlagProto3    = 0x40000
	FlagPinned    = 0x100000
	FlagLocal     = 0x200000
	FlagBroadcast = 0x400000
	FlagMulticast = 0x800000
	FlagIfScope   = 0x1000000
	FlagCondemned = 0x2000000
	FlagIfRef     = 0x4000000
	FlagProxy     = 0x8000000
	FlagRouter    = 0x10000000
	FlagDead      = 0x20000000
	FlagGlobal    = 0x40000000
)

// Address families of macOS.
const (
	AFInet  = 2
	AFInet6 = 30
	AFLink  = 18
)

// Sizes of the socket addresses written by this package.
const (
	sizeofSockaddrInet  = 16
	sizeofSockaddrInet6 = 28
	sizeofSockaddrDL    = 20
)

// Sockaddr is one socket address of a message. For AFInet and AFInet6 Addr
// is set (a netmask is decoded as an address of the destination's family);
// for AFLink Index and Name (Name may be empty).
type Sockaddr struct {
	Family uint8
	Addr   netip.Addr
	Index  uint16
	Name   string
}

// Message is one routing socket message with a rt_msghdr header.
type Message struct {
	Type  uint8
	Index uint16 // rtm_index: interface index
	Flags uint32
	PID   int32
	Seq   int32
	Errno int32
	Use   int32
	Inits uint32
	// MTU is rmx_mtu of rtm_rmx; the other metrics are not used.
	MTU uint32
	// Addrs holds the socket addresses by RTAX index; nil when absent.
	Addrs [axMax]*Sockaddr
}

// isRouteType reports whether t is a message type with a rt_msghdr header.
func isRouteType(t uint8) bool {
	switch t {
	case TypeAdd, TypeDelete, TypeChange, TypeGet, TypeLosing, TypeRedirect, TypeMiss, TypeLock, TypeResolve:
		return true
	}
	return false
}

// roundup is the Darwin ROUNDUP of socket address lengths: a multiple of 4
// bytes, and 4 for a zero length.
func roundup(n int) int {
	if n == 0 {
		return 4
	}
	return (n + 3) &^ 3
}

// Marshal encodes m: the header, then the present socket addresses in
// RTAX order, each padded to a multiple of 4 bytes.
func (m *Message) Marshal() ([]byte, error) {
	b := make([]byte, HeaderLen, HeaderLen+3*sizeofSockaddrInet6)
	var addrs uint32
	for i, sa := range m.Addrs {
		if sa == nil {
			continue
		}
		enc, err := sa.marshal()
		if err != nil {
			return nil, fmt.Errorf("routesock: address %d: %w", i, err)
		}
		addrs |= 1 << i
		b = append(b, enc...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	if len(b) > 0xffff {
		return nil, errors.New("routesock: message longer than 65535 bytes")
	}
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(len(b)))
	b[2] = Version
	b[3] = m.Type
	le.PutUint16(b[4:], m.Index)
	// b[6:8] is padding before the 4-byte aligned rtm_flags.
	le.PutUint32(b[8:], m.Flags)
	le.PutUint32(b[12:], addrs)
	le.PutUint32(b[16:], uint32(m.PID))
	le.PutUint32(b[20:], uint32(m.Seq))
	le.PutUint32(b[24:], uint32(m.Errno))
	le.PutUint32(b[28:], uint32(m.Use))
	le.PutUint32(b[32:], m.Inits)
	// rtm_rmx starts at 36: rmx_locks, then rmx_mtu at 40.
	le.PutUint32(b[40:], m.MTU)
	return b, nil
}

func (sa *Sockaddr) marshal() ([]byte, error) {
	switch sa.Family {
	case AFInet:
		if !sa.Addr.Is4() {
			return nil, fmt.Errorf("AF_INET address %v is not IPv4", sa.Addr)
		}
		b := make([]byte, sizeofSockaddrInet)
		b[0], b[1] = sizeofSockaddrInet, AFInet
		a := sa.Addr.As4()
		copy(b[4:8], a[:])
		return b, nil
	case AFInet6:
		if !sa.Addr.Is6() {
			return nil, fmt.Errorf("AF_INET6 address %v is not IPv6", sa.Addr)
		}
		b := make([]byte, sizeofSockaddrInet6)
		b[0], b[1] = sizeofSockaddrInet6, AFInet6
		a := sa.Addr.As16()
		if z, err := strconv.ParseUint(sa.Addr.Zone(), 10, 16); err == nil && (sa.Addr.IsLinkLocalUnicast() || sa.Addr.IsLinkLocalMulticast()) {
			// KAME: the kernel expects the scope in bytes 2 and 3.
			binary.BigEndian.PutUint16(a[2:4], uint16(z))
		}
		copy(b[8:24], a[:])
		return b, nil
	case AFLink:
		n := 8 + len(sa.Name)
		if n < sizeofSockaddrDL {
			n = sizeofSockaddrDL
		}
		if n > 255 {
			return nil, fmt.Errorf("interface name %q too long", sa.Name)
		}
		b := make([]byte, n)
		b[0], b[1] = byte(n), AFLink
		binary.LittleEndian.PutUint16(b[2:], sa.Index)
		b[5] = byte(len(sa.Name)) // sdl_nlen; sdl_type, sdl_alen and sdl_slen stay 0
		copy(b[8:], sa.Name)
		return b, nil
	}
	return nil, fmt.Errorf("unsupported address family %d", sa.Family)
}

// Parse decodes the route messages in b, a sequence of messages as read
// from the routing socket or returned by sysctl NET_RT_DUMP. Messages of
// other types (interface and address messages) and other versions are
// skipped.
func Parse(b []byte) ([]Message, error) {
	var out []Message
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return out, fmt.Errorf("routesock: %d trailing bytes at offset %d", len(b)-off, off)
		}
		n := int(binary.LittleEndian.Uint16(b[off:]))
		if n < 4 || off+n > len(b) {
			return out, fmt.Errorf("routesock: message at offset %d: length %d, %d bytes left", off, n, len(b)-off)
		}
		msg := b[off : off+n]
		off += n
		if msg[2] != Version || !isRouteType(msg[3]) {
			continue
		}
		m, err := parseOne(msg)
		if err != nil {
			return out, fmt.Errorf("routesock: message at offset %d: %w", off-n, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func parseOne(b []byte) (Message, error) {
	if len(b) < HeaderLen {
		return Message{}, fmt.Errorf("type %d: %d bytes, header needs %d", b[3], len(b), HeaderLen)
	}
	le := binary.LittleEndian
	m := Message{
		Type:  b[3],
		Index: le.Uint16(b[4:]),
		Flags: le.Uint32(b[8:]),
		PID:   int32(le.Uint32(b[16:])),
		Seq:   int32(le.Uint32(b[20:])),
		Errno: int32(le.Uint32(b[24:])),
		Use:   int32(le.Uint32(b[28:])),
		Inits: le.Uint32(b[32:]),
		MTU:   le.Uint32(b[40:]),
	}
	addrs := le.Uint32(b[12:])
	rest := b[HeaderLen:]
	var dstFamily uint8
	for i := 0; i < axMax; i++ {
		if addrs&(1<<i) == 0 {
			continue
		}
		if len(rest) == 0 {
			return m, fmt.Errorf("address %d announced but message ends", i)
		}
		l := int(rest[0])
		step := roundup(l)
		if l > len(rest) {
			return m, fmt.Errorf("address %d: length %d, %d bytes left", i, l, len(rest))
		}
		sa, err := parseSockaddr(rest[:l], i, dstFamily)
		if err != nil {
			return m, fmt.Errorf("address %d: %w", i, err)
		}
		if i == AxDst {
			dstFamily = sa.Family
		}
		m.Addrs[i] = sa
		if step > len(rest) {
			step = len(rest)
		}
		rest = rest[step:]
	}
	return m, nil
}

// parseSockaddr decodes one socket address of length len(b). Netmasks
// (index AxNetmask, AxGenmask) are often shortened by the kernel to their
// last non-zero byte and may carry family 0; they are read as an address of
// the destination's family with the missing bytes zero.
func parseSockaddr(b []byte, index int, dstFamily uint8) (*Sockaddr, error) {
	if index == AxNetmask || index == AxGenmask {
		fam := dstFamily
		if fam == 0 && len(b) >= 2 {
			fam = b[1]
		}
		switch fam {
		case AFInet:
			var a [4]byte
			if len(b) > 4 {
				copy(a[:], b[4:])
			}
			return &Sockaddr{Family: AFInet, Addr: netip.AddrFrom4(a)}, nil
		case AFInet6:
			var a [16]byte
			if len(b) > 8 {
				copy(a[:], b[8:])
			}
			return &Sockaddr{Family: AFInet6, Addr: netip.AddrFrom16(a)}, nil
		}
		return &Sockaddr{Family: fam}, nil
	}
	if len(b) == 0 {
		return &Sockaddr{}, nil
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("length %d too short", len(b))
	}
	switch b[1] {
	case AFInet:
		if len(b) < 8 {
			return nil, fmt.Errorf("AF_INET address of %d bytes", len(b))
		}
		return &Sockaddr{Family: AFInet, Addr: netip.AddrFrom4([4]byte(b[4:8]))}, nil
	case AFInet6:
		if len(b) < 24 {
			return nil, fmt.Errorf("AF_INET6 address of %d bytes", len(b))
		}
		a := [16]byte(b[8:24])
		var scope uint32
		if len(b) >= 28 {
			scope = binary.LittleEndian.Uint32(b[24:28])
		}
		return &Sockaddr{Family: AFInet6, Addr: fromKAME(a, scope)}, nil
	case AFLink:
		if len(b) < 8 {
			return nil, fmt.Errorf("AF_LINK address of %d bytes", len(b))
		}
		sa := &Sockaddr{Family: AFLink, Index: binary.LittleEndian.Uint16(b[2:])}
		nlen := int(b[5])
		if 8+nlen > len(b) {
			return nil, fmt.Errorf("AF_LINK name of %d bytes in %d", nlen, len(b))
		}
		sa.Name = string(b[8 : 8+nlen])
		return sa, nil
	}
	return &Sockaddr{Family: b[1]}, nil
}

// fromKAME undoes the KAME convention of the BSD kernels: a link-local
// IPv6 address carries its interface index in bytes 2 and 3. The index (or
// sin6_scope_id) becomes the address's zone.
func fromKAME(a [16]byte, scope uint32) netip.Addr {
	addr := netip.AddrFrom16(a)
	if !addr.IsLinkLocalUnicast() && !addr.IsLinkLocalMulticast() && !addr.IsInterfaceLocalMulticast() {
		return addr
	}
	embedded := uint32(binary.BigEndian.Uint16(a[2:4]))
	a[2], a[3] = 0, 0
	addr = netip.AddrFrom16(a)
	if embedded != 0 {
		scope = embedded
	}
	if scope != 0 {
		addr = addr.WithZone(fmt.Sprint(scope))
	}
	return addr
}
