package vnettun

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// superPacket is a packet read from the device together with its
// virtio-net header, cut into segments one call to next at a time.
type superPacket struct {
	h    header
	pkt  []byte
	ip   l3
	l4   int // transport header length
	seg  int // next segment to emit
	segs int // number of segments
}

// reset prepares the packet b (virtio-net header first) for splitting. It
// completes a checksum the kernel left to us, and for a super-packet it
// works out how many segments it holds.
func (sp *superPacket) reset(b []byte) error {
	*sp = superPacket{}
	if len(b) < HeaderLen {
		return fmt.Errorf("vnettun: %d-byte read is shorter than the virtio-net header", len(b))
	}
	sp.h.decode(b)
	sp.pkt = b[HeaderLen:]
	gso := sp.h.gsoType &^ gsoECN
	if gso == gsoNone {
		sp.segs = 1
		if sp.h.flags&flagNeedsCsum != 0 {
			return completeChecksum(sp.pkt, int(sp.h.csumStart), int(sp.h.csumOffset))
		}
		return nil
	}
	ip, err := parseIP(sp.pkt)
	if err != nil {
		return err
	}
	sp.ip = ip
	switch {
	case (gso == gsoTCPv4 && !ip.v6 || gso == gsoTCPv6 && ip.v6) && ip.proto == protoTCP:
		if len(sp.pkt) < ip.hlen+20 {
			return errors.New("vnettun: TCP super-packet without a TCP header")
		}
		sp.l4 = int(sp.pkt[ip.hlen+12]>>4) * 4
		if sp.l4 < 20 || len(sp.pkt) < ip.hlen+sp.l4 {
			return fmt.Errorf("vnettun: TCP header length %d in a %d-byte super-packet", sp.l4, len(sp.pkt))
		}
	case gso == gsoUDPL4 && ip.proto == protoUDP:
		sp.l4 = 8
		if len(sp.pkt) < ip.hlen+8 {
			return errors.New("vnettun: UDP super-packet without a UDP header")
		}
	default:
		return fmt.Errorf("vnettun: unsupported GSO type %d for IP protocol %d", sp.h.gsoType, ip.proto)
	}
	if sp.h.gsoSize == 0 {
		return errors.New("vnettun: super-packet with a zero segment size")
	}
	payload := len(sp.pkt) - ip.hlen - sp.l4
	sp.segs = max(1, (payload+int(sp.h.gsoSize)-1)/int(sp.h.gsoSize))
	return nil
}

// completeChecksum finishes a checksum the kernel left partial
// (CHECKSUM_PARTIAL): the field at start+off holds the pseudo-header sum,
// and the result covers everything from start to the end.
func completeChecksum(pkt []byte, start, off int) error {
	if start+off+2 > len(pkt) {
		return fmt.Errorf("vnettun: checksum at %d+%d is outside the %d-byte packet", start, off, len(pkt))
	}
	c := ^fold(sum(pkt[start:], 0))
	if c == 0 {
		c = 0xffff // a computed zero is sent as all ones (RFC 768, and what Linux does)
	}
	binary.BigEndian.PutUint16(pkt[start+off:], c)
	return nil
}

// done reports whether every segment has been emitted.
func (sp *superPacket) done() bool { return sp.seg >= sp.segs }

// next writes the next segment into dst and returns its length.
func (sp *superPacket) next(dst []byte) (int, error) {
	if sp.h.gsoType&^gsoECN == gsoNone {
		if len(dst) < len(sp.pkt) {
			return 0, ErrShortBuffer
		}
		sp.seg++
		return copy(dst, sp.pkt), nil
	}
	hl := sp.ip.hlen + sp.l4
	mss := int(sp.h.gsoSize)
	i := sp.seg
	from := hl + i*mss
	to := min(from+mss, len(sp.pkt))
	n := hl + to - from
	if len(dst) < n {
		return 0, ErrShortBuffer
	}
	copy(dst, sp.pkt[:hl])
	copy(dst[hl:], sp.pkt[from:to])
	seg := dst[:n]
	ip := sp.ip // addresses still point into sp.pkt; they are the same in every segment
	if !ip.v6 {
		id := binary.BigEndian.Uint16(sp.pkt[4:])
		binary.BigEndian.PutUint16(seg[4:], id+uint16(i))
	}
	ip.setLength(seg, n)
	l4 := seg[ip.hlen:]
	if ip.proto == protoTCP {
		seq := binary.BigEndian.Uint32(sp.pkt[ip.hlen+4:])
		binary.BigEndian.PutUint32(l4[4:], seq+uint32(i*mss))
		if i != sp.segs-1 {
			l4[13] &^= tcpFIN | tcpPSH
		}
		if i != 0 {
			l4[13] &^= tcpCWR
		}
		l4[16], l4[17] = 0, 0
		binary.BigEndian.PutUint16(l4[16:], ^fold(sum(l4, pseudoSum(ip.src, ip.dst, protoTCP, len(l4)))))
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		l4[6], l4[7] = 0, 0
		c := ^fold(sum(l4, pseudoSum(ip.src, ip.dst, protoUDP, len(l4))))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[6:], c)
	}
	sp.seg++
	return n, nil
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20
	tcpECE = 0x40
	tcpCWR = 0x80
)
