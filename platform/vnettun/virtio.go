package vnettun

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of the virtio-net header (struct virtio_net_hdr)
// in front of every packet read from or written to the device. Callers
// keep at least this much headroom in front of packets.
const HeaderLen = 10

// Header fields (include/uapi/linux/virtio_net.h).
const (
	flagNeedsCsum = 1

	gsoNone  = 0
	gsoTCPv4 = 1
	gsoTCPv6 = 4
	gsoUDPL4 = 5
	gsoECN   = 0x80
)

// header is a decoded virtio-net header. The kernel uses the host's byte
// order for it unless TUNSETVNETBE is set, which this package never does;
// Linux runs little-endian on every architecture cvpn builds for.
type header struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16
	gsoSize    uint16
	csumStart  uint16
	csumOffset uint16
}

func (h *header) decode(b []byte) {
	h.flags = b[0]
	h.gsoType = b[1]
	h.hdrLen = binary.LittleEndian.Uint16(b[2:])
	h.gsoSize = binary.LittleEndian.Uint16(b[4:])
	h.csumStart = binary.LittleEndian.Uint16(b[6:])
	h.csumOffset = binary.LittleEndian.Uint16(b[8:])
}

func (h *header) encode(b []byte) {
	b[0] = h.flags
	b[1] = h.gsoType
	binary.LittleEndian.PutUint16(b[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:], h.csumOffset)
}

// IP protocol numbers.
const (
	protoTCP = 6
	protoUDP = 17
)

// ErrShortBuffer means a packet did not fit the buffer it was to be
// written into.
var ErrShortBuffer = errors.New("vnettun: packet does not fit the buffer")

// l3 describes the IP header of a packet: its length, the transport
// protocol, and where the addresses are.
type l3 struct {
	v6       bool
	hlen     int
	proto    uint8
	src, dst []byte
}

// parseIP reads the IP header of pkt. It accepts IPv4 without
// fragmentation and IPv6 whose next header is the transport (no extension
// headers): the only packets the kernel hands over as super-packets and
// the only ones worth coalescing.
func parseIP(pkt []byte) (l3, error) {
	if len(pkt) < 20 {
		return l3{}, fmt.Errorf("vnettun: %d-byte packet is too short for an IP header", len(pkt))
	}
	switch pkt[0] >> 4 {
	case 4:
		hl := int(pkt[0]&0xf) * 4
		if hl < 20 || len(pkt) < hl {
			return l3{}, fmt.Errorf("vnettun: IPv4 header length %d in a %d-byte packet", hl, len(pkt))
		}
		if int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) {
			return l3{}, fmt.Errorf("vnettun: IPv4 total length %d, packet has %d bytes", binary.BigEndian.Uint16(pkt[2:]), len(pkt))
		}
		if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return l3{}, errors.New("vnettun: IPv4 fragment")
		}
		return l3{hlen: hl, proto: pkt[9], src: pkt[12:16], dst: pkt[16:20]}, nil
	case 6:
		if len(pkt) < 40 {
			return l3{}, fmt.Errorf("vnettun: %d-byte packet is too short for an IPv6 header", len(pkt))
		}
		if int(binary.BigEndian.Uint16(pkt[4:]))+40 != len(pkt) {
			return l3{}, fmt.Errorf("vnettun: IPv6 payload length %d, packet has %d bytes", binary.BigEndian.Uint16(pkt[4:]), len(pkt)-40)
		}
		return l3{v6: true, hlen: 40, proto: pkt[6], src: pkt[8:24], dst: pkt[24:40]}, nil
	}
	return l3{}, fmt.Errorf("vnettun: IP version %d", pkt[0]>>4)
}

// setLength writes the packet length n into the IP header of pkt and, for
// IPv4, recomputes the header checksum.
func (ip *l3) setLength(pkt []byte, n int) {
	if ip.v6 {
		binary.BigEndian.PutUint16(pkt[4:], uint16(n-40))
		return
	}
	binary.BigEndian.PutUint16(pkt[2:], uint16(n))
	ipv4Checksum(pkt[:ip.hlen])
}

func ipv4Checksum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:], ^fold(sum(h, 0)))
}
