package icmpecho

import (
	"encoding/binary"
	"net/netip"
)

// Types of echo packets.
const (
	Reply   uint8 = 0
	Request uint8 = 8
)

// Checksum is the Internet checksum (RFC 1071) of b.
func Checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Packet is one IPv4 ICMP echo request or reply.
type Packet struct {
	Src, Dst netip.Addr // IPv4
	Type     uint8      // Request or Reply
	ID, Seq  uint16
	Payload  []byte
}

// Marshal returns the whole IPv4 packet (20-byte header, TTL 64, IP ID =
// Seq) with both checksums set. Src and Dst must be IPv4 addresses.
func (e Packet) Marshal() []byte {
	p := make([]byte, 20+8+len(e.Payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], e.Seq)
	p[8] = 64 // TTL
	p[9] = 1  // ICMP
	s4, d4 := e.Src.As4(), e.Dst.As4()
	copy(p[12:16], s4[:])
	copy(p[16:20], d4[:])
	binary.BigEndian.PutUint16(p[10:], Checksum(p[:20]))
	ic := p[20:]
	ic[0] = e.Type
	binary.BigEndian.PutUint16(ic[4:], e.ID)
	binary.BigEndian.PutUint16(ic[6:], e.Seq)
	copy(ic[8:], e.Payload)
	binary.BigEndian.PutUint16(ic[2:], Checksum(ic))
	return p
}

// Parse recognises an IPv4 ICMP echo request or reply. The payload aliases
// p. Checksums are not verified: the packet came through an authenticated
// tunnel.
func Parse(p []byte) (Packet, bool) {
	if len(p) < 28 || p[0]>>4 != 4 || p[9] != 1 {
		return Packet{}, false
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < 20 || len(p) < ihl+8 {
		return Packet{}, false
	}
	ic := p[ihl:]
	if ic[0] != Reply && ic[0] != Request {
		return Packet{}, false
	}
	return Packet{
		Src: netip.AddrFrom4([4]byte(p[12:16])), Dst: netip.AddrFrom4([4]byte(p[16:20])),
		Type: ic[0], ID: binary.BigEndian.Uint16(ic[4:]), Seq: binary.BigEndian.Uint16(ic[6:]),
		Payload: ic[8:],
	}, true
}
