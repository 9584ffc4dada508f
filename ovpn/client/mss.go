package client

import "encoding/binary"

// clampMSS lowers the MSS option of a TCP SYN in an IPv4 or IPv6 packet to
// max, fixing the TCP checksum incrementally. Other packets are untouched.
func clampMSS(pkt []byte, max uint16) {
	if max == 0 || len(pkt) < 20 {
		return
	}
	var tcp []byte
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if pkt[9] != 6 || ihl < 20 || len(pkt) < ihl+20 {
			return
		}
		if binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 { // not the first fragment
			return
		}
		tcp = pkt[ihl:]
	case 6:
		if len(pkt) < 60 || pkt[6] != 6 { // no extension headers handled
			return
		}
		tcp = pkt[40:]
	default:
		return
	}
	if tcp[13]&0x02 == 0 { // SYN
		return
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return
	}
	opts := tcp[20:off]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return
		case 1:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return
		}
		if opts[i] == 2 && opts[i+1] == 4 {
			old := binary.BigEndian.Uint16(opts[i+2:])
			if old > max {
				binary.BigEndian.PutUint16(opts[i+2:], max)
				// RFC 1624: HC' = ~(~HC + ~m + m')
				sum := uint32(^binary.BigEndian.Uint16(tcp[16:18])) + uint32(^old) + uint32(max)
				for sum > 0xffff {
					sum = (sum & 0xffff) + sum>>16
				}
				binary.BigEndian.PutUint16(tcp[16:18], ^uint16(sum))
			}
			return
		}
		i += int(opts[i+1])
	}
}
