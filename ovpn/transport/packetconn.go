package transport

import (
	"fmt"
	"net"
	"net/netip"
)

// PacketConn is a server's unconnected UDP socket with batched I/O: one
// goroutine reads batches of datagrams with their sources, and packets for
// one peer leave with as few system calls as the system allows (sendmmsg
// and UDP GSO on Linux). Nothing is allocated per datagram.
type PacketConn struct {
	c *net.UDPConn
	b *packetBatch
}

// NewPacketConn wraps a listening UDP socket (one made by net.ListenUDP).
func NewPacketConn(c *net.UDPConn) (*PacketConn, error) {
	b, err := newPacketBatch(c)
	if err != nil {
		return nil, fmt.Errorf("udp %s: %w", c.LocalAddr(), err)
	}
	return &PacketConn{c: c, b: b}, nil
}

// ReadBatchFrom reads at least one and up to len(bufs) datagrams, blocking
// until the first arrives. sizes[i] is the length of the datagram in
// bufs[i] (0 when it was larger than the buffer and dropped) and from[i]
// its source, with IPv4-mapped addresses unmapped. Only one goroutine may
// call it at a time.
func (p *PacketConn) ReadBatchFrom(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	return p.b.readBatch(bufs, sizes, from)
}

// WriteBatchTo sends pkts in order, as separate datagrams, to one peer. It
// is safe to call from several goroutines.
func (p *PacketConn) WriteBatchTo(pkts [][]byte, to netip.AddrPort) error {
	if len(pkts) == 0 {
		return nil
	}
	return p.b.writeBatch(pkts, to)
}

// WriteTo sends one datagram to one peer.
func (p *PacketConn) WriteTo(pkt []byte, to netip.AddrPort) error {
	_, err := p.c.WriteToUDPAddrPort(pkt, to)
	return err
}

// UDPConn returns the wrapped socket.
func (p *PacketConn) UDPConn() *net.UDPConn { return p.c }
