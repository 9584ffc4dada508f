package vnettun

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxSuper is the largest packet the kernel accepts from a TUN write: the
// IPv4 total length and the IPv6 payload length are 16-bit fields.
const maxSuper = 65535

// coalescer merges the consecutive segments of a TCP stream found in one
// batch of packets into super-packets, and prefixes every packet of the
// batch with its virtio-net header. It keeps its scratch space between
// batches so that nothing is allocated per packet; it is not safe for
// concurrent use.
type coalescer struct {
	items []groItem
	out   [][]byte
}

// groItem is one super-packet being built: the head packet's buffer, grown
// in place by the payloads that follow it.
type groItem struct {
	idx     int    // index of the head packet in the batch
	pkt     []byte // the super-packet (IP header first)
	ip      l3
	l4      int // TCP header length
	mss     int // payload length of the head segment
	nextSeq uint32
	lastID  uint16 // IPv4 identification of the last segment
	segs    int
	psh     bool
	closed  bool // nothing more may be appended
	checked bool // the head's checksum was verified
}

// tcpSeg is what coalescing needs to know about one TCP packet.
type tcpSeg struct {
	ip      l3
	l4      int
	payload int
}

// candidate reports whether pkt is a TCP segment that may be merged with
// others: IPv4 without options or IPv6 without extension headers, data
// present, and no flag other than ACK and PSH. For any other TCP packet
// it still returns the IP header (s.ip.proto is then protoTCP), so that
// the caller can close the packet's stream without parsing it again.
func candidate(pkt []byte) (s tcpSeg, ok bool) {
	ip, err := parseIP(pkt)
	if err != nil || ip.proto != protoTCP || len(pkt) < ip.hlen+20 {
		return tcpSeg{}, false
	}
	if !ip.v6 && ip.hlen != 20 {
		return tcpSeg{ip: ip}, false
	}
	th := pkt[ip.hlen:]
	l4 := int(th[12]>>4) * 4
	if l4 < 20 || len(th) <= l4 {
		return tcpSeg{ip: ip}, false
	}
	if f := th[13]; f&^tcpPSH != tcpACK || th[12]&0x0f != 0 {
		return tcpSeg{ip: ip}, false
	}
	return tcpSeg{ip: ip, l4: l4, payload: len(th) - l4}, true
}

// validTCP reports whether the TCP checksum of pkt is right. A merged
// super-packet is handed to the kernel as already checked, so every segment
// that goes into one is verified here first.
func validTCP(pkt []byte, s tcpSeg) bool {
	th := pkt[s.ip.hlen:]
	return fold(sum(th, pseudoSum(s.ip.src, s.ip.dst, protoTCP, len(th)))) == 0xffff
}

// sameStream reports whether the headers of the segment pkt match those of
// the item's head in everything but lengths, IPv4 identification and
// checksums, sequence number and the PSH flag.
func (it *groItem) sameStream(pkt []byte, s tcpSeg) bool {
	if s.ip.v6 != it.ip.v6 || s.l4 != it.l4 {
		return false
	}
	h, p := it.pkt, pkt
	if it.ip.v6 {
		// Version, traffic class, flow label; next header, hop limit; addresses.
		if !bytes.Equal(h[0:4], p[0:4]) || !bytes.Equal(h[6:40], p[6:40]) {
			return false
		}
	} else {
		// Version, header length, TOS; flags and fragment offset, TTL,
		// protocol; addresses.
		if !bytes.Equal(h[0:2], p[0:2]) || !bytes.Equal(h[6:10], p[6:10]) || !bytes.Equal(h[12:20], p[12:20]) {
			return false
		}
	}
	ht, pt := h[it.ip.hlen:], p[s.ip.hlen:]
	// Ports; acknowledgment, data offset; window; urgent pointer; options.
	return bytes.Equal(ht[0:4], pt[0:4]) && bytes.Equal(ht[8:13], pt[8:13]) &&
		bytes.Equal(ht[14:16], pt[14:16]) && bytes.Equal(ht[18:it.l4], pt[18:s.l4])
}

// coalesce returns the packets of bufs (each starting offset bytes in) as
// device writes, each starting with its virtio-net header in the headroom.
// Consecutive segments of one TCP stream are merged into the buffer of the
// first one, which must have the capacity for it (the callers' slots hold
// 64 KiB). The result is valid until the next call.
func (c *coalescer) coalesce(bufs [][]byte, offset int) ([][]byte, error) {
	if offset < HeaderLen {
		return nil, fmt.Errorf("vnettun: %d bytes of headroom, the virtio-net header needs %d", offset, HeaderLen)
	}
	c.items = c.items[:0]
	c.out = c.out[:0]
	for _, b := range bufs {
		pkt := b[offset:]
		s, ok := candidate(pkt)
		if !ok {
			// A segment of a stream that cannot be merged (a FIN, a pure
			// ACK, ...) ends the stream's open super-packet, so that nothing
			// of the stream that follows it is written before it.
			if s.ip.proto == protoTCP {
				c.closeFlow(pkt, s.ip)
			}
			c.out = append(c.out, b)
			continue
		}
		if c.merge(pkt, s) {
			continue
		}
		c.items = append(c.items, groItem{
			idx: len(c.out), pkt: pkt, ip: s.ip, l4: s.l4, mss: s.payload,
			nextSeq: binary.BigEndian.Uint32(pkt[s.ip.hlen+4:]) + uint32(s.payload),
			segs:    1, psh: pkt[s.ip.hlen+13]&tcpPSH != 0, closed: pkt[s.ip.hlen+13]&tcpPSH != 0,
		})
		if !s.ip.v6 {
			c.items[len(c.items)-1].lastID = binary.BigEndian.Uint16(pkt[4:])
		}
		c.out = append(c.out, b)
	}
	for i := range c.out {
		clear(c.out[i][offset-HeaderLen : offset])
		c.out[i] = c.out[i][offset-HeaderLen:]
	}
	for i := range c.items {
		it := &c.items[i]
		if it.segs == 1 {
			continue
		}
		it.finish()
		c.out[it.idx] = c.out[it.idx][:HeaderLen+len(it.pkt)]
		h := header{
			flags: flagNeedsCsum, gsoType: gsoTCPv4,
			hdrLen: uint16(it.ip.hlen + it.l4), gsoSize: uint16(it.mss),
			csumStart: uint16(it.ip.hlen), csumOffset: 16,
		}
		if it.ip.v6 {
			h.gsoType = gsoTCPv6
		}
		h.encode(c.out[it.idx])
	}
	return c.out, nil
}

// closeFlow closes the open item of the TCP stream pkt (IP header ip)
// belongs to, if any.
func (c *coalescer) closeFlow(pkt []byte, ip l3) {
	for i := range c.items {
		it := &c.items[i]
		if !it.closed && it.ip.v6 == ip.v6 && bytes.Equal(it.ip.src, ip.src) && bytes.Equal(it.ip.dst, ip.dst) &&
			bytes.Equal(it.pkt[it.ip.hlen:it.ip.hlen+4], pkt[ip.hlen:ip.hlen+4]) {
			it.closed = true
		}
	}
}

// merge appends the segment pkt to the open item of its stream, if there is
// one it may follow. Otherwise it closes that item, and the caller starts a
// new one with pkt.
func (c *coalescer) merge(pkt []byte, s tcpSeg) bool {
	for i := len(c.items) - 1; i >= 0; i-- {
		it := &c.items[i]
		if it.closed || !it.sameStream(pkt, s) {
			continue
		}
		if !it.accepts(pkt, s) {
			it.closed = true
			return false
		}
		n := len(it.pkt)
		it.pkt = it.pkt[:n+s.payload]
		copy(it.pkt[n:], pkt[s.ip.hlen+s.l4:])
		it.nextSeq += uint32(s.payload)
		it.segs++
		if !s.ip.v6 {
			it.lastID = binary.BigEndian.Uint16(pkt[4:])
		}
		if pkt[s.ip.hlen+13]&tcpPSH != 0 {
			it.psh, it.closed = true, true
		}
		if s.payload < it.mss {
			it.closed = true
		}
		return true
	}
	return false
}

// accepts reports whether the segment pkt of the item's stream may be
// appended: it continues the byte stream, is no longer than the first
// segment, keeps the IPv4 identification sequence, fits, and both it and
// the head have a correct checksum.
func (it *groItem) accepts(pkt []byte, s tcpSeg) bool {
	if binary.BigEndian.Uint32(pkt[s.ip.hlen+4:]) != it.nextSeq || s.payload > it.mss {
		return false
	}
	if !it.ip.v6 {
		id := binary.BigEndian.Uint16(pkt[4:])
		df := pkt[6]&0x40 != 0
		if id != it.lastID+1 && !(df && id == it.lastID) {
			return false
		}
	}
	n := len(it.pkt) + s.payload
	if n > cap(it.pkt) || n-it.hdrLenV6() > maxSuper {
		return false
	}
	if !it.checked {
		if !validTCP(it.pkt, tcpSeg{ip: it.ip, l4: it.l4}) {
			return false
		}
		it.checked = true
	}
	return validTCP(pkt, s)
}

// hdrLenV6 is the part of the packet its length field does not count: the
// IPv6 header (IPv4's total length counts everything).
func (it *groItem) hdrLenV6() int {
	if it.ip.v6 {
		return 40
	}
	return 0
}

// finish writes the super-packet's lengths and flags, and leaves in the TCP
// checksum field the pseudo-header sum the kernel completes (the virtio
// NEEDS_CSUM contract, like CHECKSUM_PARTIAL).
func (it *groItem) finish() {
	it.ip.setLength(it.pkt, len(it.pkt))
	th := it.pkt[it.ip.hlen:]
	if it.psh {
		th[13] |= tcpPSH
	}
	binary.BigEndian.PutUint16(th[16:], fold(pseudoSum(it.ip.src, it.ip.dst, protoTCP, len(th))))
}
