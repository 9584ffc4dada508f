package transport

import (
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// packetBatch is the Linux batch I/O of an unconnected socket: recvmmsg
// with a source address buffer per message, sendmmsg (with UDP GSO where
// the kernel has it) to one destination per call.
type packetBatch struct {
	b     *udpBatch
	inet6 bool // the socket is AF_INET6 (IPv4 peers appear v4-mapped)
	to4   unix.RawSockaddrInet4
	to6   unix.RawSockaddrInet6
}

func newPacketBatch(c *net.UDPConn) (*packetBatch, error) {
	b, err := newUDPBatch(c)
	if err != nil {
		return nil, err
	}
	b.rnames = make([]unix.RawSockaddrInet6, udpBatchSize)
	var dom int
	var serr error
	if err := b.rc.Control(func(fd uintptr) {
		dom, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("SO_DOMAIN: %w", serr)
	}
	return &packetBatch{b: b, inet6: dom == unix.AF_INET6}, nil
}

func (p *packetBatch) readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	n, err := p.b.readBatch(bufs, sizes[:min(len(sizes), len(from))])
	for i := 0; i < n; i++ {
		from[i] = sockaddrToAddrPort(&p.b.rnames[i], p.b.rhdrs[i].Hdr.Namelen)
	}
	return n, err
}

// sockaddrToAddrPort parses a received source address without allocating;
// IPv4-mapped IPv6 addresses are unmapped.
func sockaddrToAddrPort(sa *unix.RawSockaddrInet6, l uint32) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && l >= unix.SizeofSockaddrInet4:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		pb := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(pb[0])<<8|uint16(pb[1]))
	case sa.Family == unix.AF_INET6 && l >= unix.SizeofSockaddrInet6:
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(pb[0])<<8|uint16(pb[1]))
	}
	return netip.AddrPort{}
}

func (p *packetBatch) writeBatch(pkts [][]byte, to netip.AddrPort) error {
	b := p.b
	b.wmu.Lock()
	defer b.wmu.Unlock()
	a := to.Addr()
	port := to.Port()
	switch {
	case !p.inet6 && a.Unmap().Is4():
		p.to4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		pb := (*[2]byte)(unsafe.Pointer(&p.to4.Port))
		pb[0], pb[1] = byte(port>>8), byte(port)
		b.wname, b.wnamelen = (*byte)(unsafe.Pointer(&p.to4)), unix.SizeofSockaddrInet4
	case p.inet6:
		p.to6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		if a.Zone() != "" {
			if ifi, err := net.InterfaceByName(a.Zone()); err == nil {
				p.to6.Scope_id = uint32(ifi.Index)
			}
		}
		pb := (*[2]byte)(unsafe.Pointer(&p.to6.Port))
		pb[0], pb[1] = byte(port>>8), byte(port)
		b.wname, b.wnamelen = (*byte)(unsafe.Pointer(&p.to6)), unix.SizeofSockaddrInet6
	default:
		return fmt.Errorf("udp: cannot send to %s from an IPv4 socket", to)
	}
	defer func() { b.wname, b.wnamelen = nil, 0 }()
	return b.writeLocked(pkts)
}
