//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// packetBatch on systems without recvmmsg/sendmmsg moves one datagram per
// system call.
type packetBatch struct{ c *net.UDPConn }

func newPacketBatch(c *net.UDPConn) (*packetBatch, error) { return &packetBatch{c: c}, nil }

func (p *packetBatch) readBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	if len(bufs) == 0 || len(sizes) == 0 || len(from) == 0 {
		return 0, nil
	}
	n, a, err := p.c.ReadFromUDPAddrPort(bufs[0])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	from[0] = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	return 1, nil
}

func (p *packetBatch) writeBatch(pkts [][]byte, to netip.AddrPort) error {
	for _, b := range pkts {
		if _, err := p.c.WriteToUDPAddrPort(b, to); err != nil {
			return err
		}
	}
	return nil
}
