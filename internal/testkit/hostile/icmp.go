package hostile

import (
	"encoding/binary"
	"net/netip"
)

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
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

// icmpEcho builds an IPv4 packet with an ICMP echo request (typ 8) or
// reply (typ 0).
func icmpEcho(src, dst netip.Addr, typ uint8, id, seq uint16, payload []byte) []byte {
	p := make([]byte, 20+8+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[4:], seq)
	p[8] = 64 // TTL
	p[9] = 1  // ICMP
	s4, d4 := src.As4(), dst.As4()
	copy(p[12:16], s4[:])
	copy(p[16:20], d4[:])
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	ic := p[20:]
	ic[0] = typ
	binary.BigEndian.PutUint16(ic[4:], id)
	binary.BigEndian.PutUint16(ic[6:], seq)
	copy(ic[8:], payload)
	binary.BigEndian.PutUint16(ic[2:], checksum(ic))
	return p
}

// echoInfo is a parsed IPv4 ICMP echo packet.
type echoInfo struct {
	src, dst netip.Addr
	typ      uint8
	id, seq  uint16
	payload  []byte
}

// parseEcho recognises an IPv4 ICMP echo request or reply.
func parseEcho(p []byte) (echoInfo, bool) {
	if len(p) < 28 || p[0]>>4 != 4 || p[9] != 1 {
		return echoInfo{}, false
	}
	ihl := int(p[0]&0x0f) * 4
	if ihl < 20 || len(p) < ihl+8 {
		return echoInfo{}, false
	}
	ic := p[ihl:]
	if ic[0] != 0 && ic[0] != 8 {
		return echoInfo{}, false
	}
	return echoInfo{
		src: netip.AddrFrom4([4]byte(p[12:16])), dst: netip.AddrFrom4([4]byte(p[16:20])),
		typ: ic[0], id: binary.BigEndian.Uint16(ic[4:]), seq: binary.BigEndian.Uint16(ic[6:]),
		payload: ic[8:],
	}, true
}
