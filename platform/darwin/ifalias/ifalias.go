package ifalias

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ioctl request numbers: _IOW('i', n, size) = 0x80000000 | size<<16 | 'i'<<8 | n.
const (
	SIOCAIFADDR     = 0x8040691a // _IOW('i', 26, struct ifaliasreq), 64 bytes
	SIOCAIFADDR_IN6 = 0x8080691a // _IOW('i', 26, struct in6_aliasreq), 128 bytes
	SIOCSIFFLAGS    = 0x80206910 // _IOW('i', 16, struct ifreq), 32 bytes
	// SIOCDIFADDR removes an IPv4 address: _IOW('i', 25, struct ifreq).
	SIOCDIFADDR = 0x80206919
	// SIOCDIFADDR_IN6 removes an IPv6 address: _IOW('i', 25, struct
	// in6_ifreq), 288 bytes (name and a union whose largest member is
	// struct icmp6_ifstat).
	SIOCDIFADDR_IN6 = 0x81206919
)

// IOW computes _IOW(group, num, size) of <sys/ioccom.h>.
func IOW(group byte, num uint8, size int) uint32 {
	return 0x80000000 | uint32(size&0x1fff)<<16 | uint32(group)<<8 | uint32(num)
}

const (
	ifNameSize = 16
	// IFF_UP of <net/if.h>.
	FlagUp = 0x1
	// in6_aliasreq ifra_flags: IN6_IFF_NODAD, no duplicate address
	// detection (the address is usable at once on a tunnel).
	in6NoDAD = 0x20
	// ND6_INFINITE_LIFETIME.
	infinite = 0xffffffff
)

func putName(b []byte, name string) error {
	if name == "" || len(name) >= ifNameSize {
		return fmt.Errorf("ifalias: interface name %q: want 1 to 15 bytes", name)
	}
	copy(b[:ifNameSize], name)
	return nil
}

func putInet(b []byte, a netip.Addr) {
	b[0], b[1] = 16, 2 // sin_len, AF_INET
	v := a.As4()
	copy(b[4:8], v[:])
}

func putInet6(b []byte, a netip.Addr) {
	b[0], b[1] = 28, 30 // sin6_len, AF_INET6
	v := a.As16()
	copy(b[8:24], v[:])
}

func mask(bits, n int) netip.Addr {
	b := make([]byte, n)
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// AliasReq4 is struct ifaliasreq for SIOCAIFADDR: name (16 bytes), address,
// destination (the peer of a point-to-point address; the address itself
// when peer is zero, as utun needs one) and netmask, each a 16-byte
// sockaddr_in.
func AliasReq4(name string, p netip.Prefix, peer netip.Addr) ([]byte, error) {
	a := p.Addr().Unmap()
	if !a.Is4() {
		return nil, fmt.Errorf("ifalias: %s is not IPv4", p)
	}
	b := make([]byte, 64)
	if err := putName(b, name); err != nil {
		return nil, err
	}
	putInet(b[16:], a)
	dst := a
	if peer.IsValid() {
		if !peer.Unmap().Is4() {
			return nil, fmt.Errorf("ifalias: peer %s is not IPv4", peer)
		}
		dst = peer.Unmap()
	}
	putInet(b[32:], dst)
	putInet(b[48:], mask(p.Bits(), 4))
	return b, nil
}

// AliasReq6 is struct in6_aliasreq for SIOCAIFADDR_IN6: name, address,
// destination (peer or zero), prefix mask (28-byte sockaddr_in6 each),
// ifra_flags (IN6_IFF_NODAD), and infinite valid and preferred lifetimes.
func AliasReq6(name string, p netip.Prefix, peer netip.Addr) ([]byte, error) {
	a := p.Addr()
	if !a.Is6() || a.Is4In6() {
		return nil, fmt.Errorf("ifalias: %s is not IPv6", p)
	}
	b := make([]byte, 128)
	if err := putName(b, name); err != nil {
		return nil, err
	}
	putInet6(b[16:], a)
	if peer.IsValid() {
		if !peer.Is6() {
			return nil, fmt.Errorf("ifalias: peer %s is not IPv6", peer)
		}
		putInet6(b[44:], peer)
	}
	putInet6(b[72:], mask(p.Bits(), 16))
	le := binary.LittleEndian
	le.PutUint32(b[100:], in6NoDAD)
	// ifra_lifetime at 104: ia6t_expire and ia6t_preferred (time_t, 0),
	// ia6t_vltime at 120 and ia6t_pltime at 124.
	le.PutUint32(b[120:], infinite)
	le.PutUint32(b[124:], infinite)
	return b, nil
}

// IfreqFlags is struct ifreq for SIOCSIFFLAGS: name and the 16-bit flags.
func IfreqFlags(name string, flags uint16) ([]byte, error) {
	b := make([]byte, 32)
	if err := putName(b, name); err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint16(b[16:], flags)
	return b, nil
}

// DelReq4 is struct ifreq for SIOCDIFADDR: name and the address to
// remove as a sockaddr_in.
func DelReq4(name string, a netip.Addr) ([]byte, error) {
	a = a.Unmap()
	if !a.Is4() {
		return nil, fmt.Errorf("ifalias: %s is not IPv4", a)
	}
	b := make([]byte, 32)
	if err := putName(b, name); err != nil {
		return nil, err
	}
	putInet(b[16:], a)
	return b, nil
}

// DelReq6 is struct in6_ifreq for SIOCDIFADDR_IN6: name and the address to
// remove as a sockaddr_in6, padded to the struct's 288 bytes.
func DelReq6(name string, a netip.Addr) ([]byte, error) {
	if !a.Is6() || a.Is4In6() {
		return nil, fmt.Errorf("ifalias: %s is not IPv6", a)
	}
	b := make([]byte, 288)
	if err := putName(b, name); err != nil {
		return nil, err
	}
	putInet6(b[16:], a)
	return b, nil
}
