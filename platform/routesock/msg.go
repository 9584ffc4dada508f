package routesock

import (
	"encoding/binary"
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

// sizeofSockaddrDL is sizeof(struct sockaddr_dl), the length route(8) and
// this package give an AF_LINK address they write.
const sizeofSockaddrDL = 20

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
	// Addrs holds the socket addresses by RTAX index; nil when absent.
	Addrs [axMax]*Sockaddr
}

// linkSockaddr encodes an AF_LINK socket address of sizeof(struct
// sockaddr_dl) bytes naming an interface by index (0: any) and name (may
// be empty): the form route(8) writes for a gateway "-interface" and for
// the RTA_IFP of an RTM_GET.
func linkSockaddr(index uint16, name string) []byte {
	n := max(8+len(name), sizeofSockaddrDL)
	if n > 255 {
		return nil
	}
	b := make([]byte, n)
	b[0], b[1] = byte(n), AFLink
	binary.LittleEndian.PutUint16(b[2:], index)
	b[5] = byte(len(name)) // sdl_nlen; sdl_type, sdl_alen and sdl_slen stay 0
	copy(b[8:], name)
	return b
}

// toKAME returns the 16 bytes of an IPv6 address as the BSD kernels take
// them: a link-local address with a numeric zone carries the interface
// index in bytes 2 and 3.
func toKAME(a netip.Addr) [16]byte {
	b := a.As16()
	if z, err := strconv.ParseUint(a.Zone(), 10, 16); err == nil && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		binary.BigEndian.PutUint16(b[2:4], uint16(z))
	}
	return b
}
