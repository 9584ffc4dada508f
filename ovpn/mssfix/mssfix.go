package mssfix

import "encoding/binary"

// Targets returns the MSS that TCP SYNs are clamped to for IPv4 and
// IPv6 payloads, computed as OpenVPN 2.6 does for `mssfix max [mtu|fixed]`
// (0 means no clamp). overhead is what the data channel adds to a packet
// (opcode, peer-id, packet ID, tag or HMAC, IV and padding, compression
// byte). With mode "mtu" (the default when a profile says nothing) max is
// the whole encapsulated packet including the outer IP and UDP or TCP
// header; without a mode it excludes that header, like link-mtu; with
// "fixed" it is the inner IP packet. The MSS leaves out TCP options, as
// OpenVPN does (RFC 879).
func Targets(max int, mode string, overhead int, reliable, outer6 bool) (v4, v6 uint16) {
	if max <= 0 {
		return 0, 0
	}
	over := 0 // "fixed": max is the inner IP packet
	if mode != "fixed" {
		over = overhead
		if reliable {
			over += 2 // the length prefix of each packet on a stream
		}
	}
	if mode == "mtu" {
		ip := 20
		if outer6 {
			ip = 40
		}
		if reliable {
			over += ip + 20 // outer IP + TCP header
		} else {
			over += ip + 8 // outer IP + UDP header
		}
	}
	clamp := func(n int) uint16 {
		if n <= 0 {
			return 0
		}
		return uint16(min(n, 65535))
	}
	return clamp(max - over - 40), clamp(max - over - 60)
}

// Clamp lowers the MSS option of a TCP SYN in an IPv4 or IPv6 packet to
// max, fixing the TCP checksum incrementally. Other packets are untouched.
func Clamp(pkt []byte, max uint16) {
	if max == 0 {
		return
	}
	tcp := synHeader(pkt)
	if tcp == nil {
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

// Default is OpenVPN 2.6's mssfix when a configuration says nothing:
// 1492 bytes including the outer IP and UDP or TCP header.
const (
	DefaultMax  = 1492
	DefaultMode = "mtu"
)

// DefaultFor is the mssfix OpenVPN 2.6 uses when a configuration gives no
// size (no mssfix, or a bare one) for a tunnel of MTU tunMTU: 1492 "mtu"
// for the standard 1500 (or an unknown MTU, 0), otherwise the tunnel MTU
// itself, "fixed".
func DefaultFor(tunMTU int) (max int, mode string) {
	if tunMTU == 0 || tunMTU == 1500 {
		return DefaultMax, DefaultMode
	}
	return tunMTU, "fixed"
}

// SYN reports whether pkt is an IPv4 (first fragment) or IPv6 TCP packet
// with the SYN flag: the only packets Clamp changes. It lets a data path
// skip working out the target for every other packet.
func SYN(pkt []byte) bool { return synHeader(pkt) != nil }

// synHeader returns the TCP header and payload of a TCP SYN in an IPv4
// (first fragment) or IPv6 (no extension headers) packet, or nil.
func synHeader(pkt []byte) []byte {
	if len(pkt) < 20 {
		return nil
	}
	var tcp []byte
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if pkt[9] != 6 || ihl < 20 || len(pkt) < ihl+20 || binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 {
			return nil
		}
		tcp = pkt[ihl:]
	case 6:
		if len(pkt) < 60 || pkt[6] != 6 {
			return nil
		}
		tcp = pkt[40:]
	default:
		return nil
	}
	if tcp[13]&0x02 == 0 {
		return nil
	}
	return tcp
}
