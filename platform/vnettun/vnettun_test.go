package vnettun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// naiveSum is RFC 1071 done the slow, obvious way, 16 bits at a time.
func naiveSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

func TestChecksumMatchesRFC1071(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2100; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if n%7 == 0 {
			for i := range b {
				b[i] = 0xff // carries everywhere
			}
		}
		got, want := fold(sum(b, 0)), naiveSum(b)
		// 0x0000 and 0xffff are the same number in ones' complement.
		if got != want && !(got == 0xffff && want == 0 || got == 0 && want == 0xffff) {
			t.Fatalf("%d bytes: sum %#04x, RFC 1071 gives %#04x", n, got, want)
		}
	}
}

var (
	v4src = []byte{10, 0, 0, 1}
	v4dst = []byte{10, 0, 0, 2}
	v6src = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	v6dst = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
)

// tcpOpts are the options of every test segment: NOP, NOP, timestamps.
var tcpOpts = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}

// ipPacket builds an IPv4 (DF set) or IPv6 packet around the transport
// segment l4, with a correct transport checksum (at csumAt in l4).
func ipPacket(v6 bool, proto uint8, id uint16, l4 []byte, csumAt int) []byte {
	var p []byte
	if v6 {
		p = make([]byte, 40, 40+len(l4))
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(l4)))
		p[6], p[7] = proto, 64
		copy(p[8:], v6src)
		copy(p[24:], v6dst)
	} else {
		p = make([]byte, 20, 20+len(l4))
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(p[4:], id)
		p[6] = 0x40
		p[8], p[9] = 64, proto
		copy(p[12:], v4src)
		copy(p[16:], v4dst)
		ipv4Checksum(p)
	}
	p = append(p, l4...)
	ip, err := parseIP(p)
	if err != nil {
		panic(err)
	}
	t := p[ip.hlen:]
	t[csumAt], t[csumAt+1] = 0, 0
	c := ^fold(sum(t, pseudoSum(ip.src, ip.dst, proto, len(t))))
	if proto == protoUDP && c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(t[csumAt:], c)
	return p
}

func tcpPacket(v6 bool, id uint16, seq uint32, flags byte, payload []byte) []byte {
	th := make([]byte, 20+len(tcpOpts), 20+len(tcpOpts)+len(payload))
	binary.BigEndian.PutUint16(th[0:], 40000)
	binary.BigEndian.PutUint16(th[2:], 5201)
	binary.BigEndian.PutUint32(th[4:], seq)
	binary.BigEndian.PutUint32(th[8:], 777)
	th[12] = byte((20 + len(tcpOpts)) / 4 << 4)
	th[13] = flags
	binary.BigEndian.PutUint16(th[14:], 501)
	copy(th[20:], tcpOpts)
	return ipPacket(v6, protoTCP, id, append(th, payload...), 16)
}

// checkValid fails unless pkt's IPv4 header checksum (if any) and transport
// checksum are right.
func checkValid(t *testing.T, what string, pkt []byte) l3 {
	t.Helper()
	ip, err := parseIP(pkt)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !ip.v6 && fold(sum(pkt[:ip.hlen], 0)) != 0xffff {
		t.Fatalf("%s: bad IPv4 header checksum", what)
	}
	l4 := pkt[ip.hlen:]
	if fold(sum(l4, pseudoSum(ip.src, ip.dst, ip.proto, len(l4)))) != 0xffff {
		t.Fatalf("%s: bad transport checksum", what)
	}
	return ip
}

// superFrame builds what the kernel hands over for a TCP send of payload
// in mss-sized segments: one packet with the virtio-net header, the
// pseudo-header sum in the checksum field.
func superFrame(v6 bool, seq uint32, flags byte, payload []byte, mss int) []byte {
	p := tcpPacket(v6, 100, seq, flags, payload)
	ip, _ := parseIP(p)
	th := p[ip.hlen:]
	binary.BigEndian.PutUint16(th[16:], fold(pseudoSum(ip.src, ip.dst, protoTCP, len(th))))
	h := header{flags: flagNeedsCsum, gsoType: gsoTCPv4, hdrLen: uint16(ip.hlen + 32), gsoSize: uint16(mss), csumStart: uint16(ip.hlen), csumOffset: 16}
	if v6 {
		h.gsoType = gsoTCPv6
	}
	f := make([]byte, HeaderLen, HeaderLen+len(p))
	h.encode(f)
	return append(f, p...)
}

func payloadOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// split cuts frame into segments, the way Device.Read does, with nbufs
// buffers per call.
func split(t *testing.T, frame []byte, nbufs int) [][]byte {
	t.Helper()
	var sp superPacket
	if err := sp.reset(frame); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for calls := 0; !sp.done(); calls++ {
		if calls > 1000 {
			t.Fatal("split does not finish")
		}
		for i := 0; i < nbufs && !sp.done(); i++ {
			buf := make([]byte, 2000)
			n, err := sp.next(buf)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, buf[:n])
		}
	}
	return out
}

func TestSplitTCP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		payload := payloadOf(5000, 3)
		const mss = 1448
		segs := split(t, superFrame(v6, 1_000_000, tcpACK|tcpPSH|tcpFIN|tcpCWR, payload, mss), 2)
		if len(segs) != 4 {
			t.Fatalf("v6=%v: 5000 bytes at MSS %d gave %d segments, want 4", v6, mss, len(segs))
		}
		var got []byte
		for i, s := range segs {
			ip := checkValid(t, "segment", s)
			th := s[ip.hlen:]
			if seq := binary.BigEndian.Uint32(th[4:]); seq != 1_000_000+uint32(i*mss) {
				t.Errorf("v6=%v segment %d: seq %d", v6, i, seq)
			}
			f := th[13]
			last := i == len(segs)-1
			if (f&tcpPSH != 0) != last || (f&tcpFIN != 0) != last || (f&tcpCWR != 0) != (i == 0) || f&tcpACK == 0 {
				t.Errorf("v6=%v segment %d: flags %#x", v6, i, f)
			}
			if !v6 && binary.BigEndian.Uint16(s[4:]) != 100+uint16(i) {
				t.Errorf("segment %d: IPv4 id %d, want %d", i, binary.BigEndian.Uint16(s[4:]), 100+i)
			}
			if !bytes.Equal(th[20:32], tcpOpts) {
				t.Errorf("v6=%v segment %d: options %x", v6, i, th[20:32])
			}
			got = append(got, th[32:]...)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("v6=%v: the segments' payloads differ from the super-packet's", v6)
		}
	}
}

func TestSplitUDP(t *testing.T) {
	payload := payloadOf(3000, 9)
	uh := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(uh[0:], 4000)
	binary.BigEndian.PutUint16(uh[2:], 53)
	p := ipPacket(true, protoUDP, 0, append(uh, payload...), 6)
	f := make([]byte, HeaderLen, HeaderLen+len(p))
	(&header{flags: flagNeedsCsum, gsoType: gsoUDPL4, gsoSize: 1200, csumStart: 40, csumOffset: 6}).encode(f)
	segs := split(t, append(f, p...), 8)
	if len(segs) != 3 {
		t.Fatalf("3000 bytes at 1200 gave %d datagrams, want 3", len(segs))
	}
	var got []byte
	for i, s := range segs {
		checkValid(t, "datagram", s)
		if l := binary.BigEndian.Uint16(s[44:]); int(l) != len(s)-40 {
			t.Errorf("datagram %d: UDP length %d, datagram has %d", i, l, len(s)-40)
		}
		got = append(got, s[48:]...)
	}
	if !bytes.Equal(got, payload) {
		t.Error("datagram payloads differ from the super-packet's")
	}
}

func TestPartialChecksumCompleted(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		p := tcpPacket(v6, 1, 5, tcpACK, payloadOf(333, 1)) // odd length
		ip, _ := parseIP(p)
		th := p[ip.hlen:]
		binary.BigEndian.PutUint16(th[16:], fold(pseudoSum(ip.src, ip.dst, protoTCP, len(th))))
		f := make([]byte, HeaderLen, HeaderLen+len(p))
		(&header{flags: flagNeedsCsum, csumStart: uint16(ip.hlen), csumOffset: 16}).encode(f)
		segs := split(t, append(f, p...), 1)
		if len(segs) != 1 {
			t.Fatalf("got %d packets", len(segs))
		}
		checkValid(t, "completed", segs[0])
	}
}

func TestSplitRejectsBadInput(t *testing.T) {
	good := superFrame(false, 1, tcpACK, payloadOf(3000, 1), 1000)
	cases := map[string]func([]byte) []byte{
		"short read":      func(b []byte) []byte { return b[:5] },
		"zero gso size":   func(b []byte) []byte { b[4], b[5] = 0, 0; return b },
		"length mismatch": func(b []byte) []byte { return b[:len(b)-1] },
		"UDP type on TCP": func(b []byte) []byte { b[1] = gsoUDPL4; return b },
		"checksum outside": func(b []byte) []byte {
			b[1] = gsoNone
			binary.LittleEndian.PutUint16(b[6:], 5000)
			return b
		},
	}
	for name, mangle := range cases {
		var sp superPacket
		if err := sp.reset(mangle(bytes.Clone(good))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	var sp superPacket
	if err := sp.reset(good); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.next(make([]byte, 100)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("segment into a 100-byte buffer: %v, want ErrShortBuffer", err)
	}
}

// slots returns the packets as a batch the way the data paths hand them
// over: offset bytes of headroom, 64 KiB of capacity each.
func slots(offset int, pkts ...[]byte) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		s := make([]byte, offset+len(p), offset+65536)
		copy(s[offset:], p)
		out[i] = s
	}
	return out
}

// stream returns n consecutive segments of one TCP stream with size bytes
// of payload each (the last one last bytes), PSH on the last.
func stream(v6 bool, n, size, last int) ([][]byte, []byte) {
	var pkts [][]byte
	var all []byte
	seq := uint32(1 << 31)
	for i := 0; i < n; i++ {
		l, f := size, byte(tcpACK)
		if i == n-1 {
			l, f = last, tcpACK|tcpPSH
		}
		pl := payloadOf(l, byte(i))
		pkts = append(pkts, tcpPacket(v6, uint16(200+i), seq, f, pl))
		all = append(all, pl...)
		seq += uint32(l)
	}
	return pkts, all
}

func TestCoalesceRoundTrip(t *testing.T) {
	const off = 16
	for _, v6 := range []bool{false, true} {
		pkts, _ := stream(v6, 20, 1400, 700)
		var c coalescer
		frames, err := c.coalesce(slots(off, pkts...), off)
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != 1 {
			t.Fatalf("v6=%v: 20 segments of one stream gave %d writes, want 1", v6, len(frames))
		}
		var h header
		h.decode(frames[0])
		if h.gsoSize != 1400 || h.flags != flagNeedsCsum || (h.gsoType == gsoTCPv6) != v6 {
			t.Fatalf("v6=%v: header %+v", v6, h)
		}
		// What the kernel would send on from it is the original segments.
		back := split(t, frames[0], 64)
		if len(back) != len(pkts) {
			t.Fatalf("v6=%v: super-packet splits into %d segments, want %d", v6, len(back), len(pkts))
		}
		for i := range pkts {
			if !bytes.Equal(back[i], pkts[i]) {
				t.Fatalf("v6=%v: segment %d differs after coalesce and split", v6, i)
			}
		}
	}
}

func TestCoalesceKeepsWhatMustNotMerge(t *testing.T) {
	const off = 16
	a, _ := stream(false, 3, 1000, 1000)
	a[2] = tcpPacket(false, 202, 1<<31+2000, tcpACK, payloadOf(1000, 2)) // no PSH: stays open
	gap := tcpPacket(false, 203, 1<<31+3500, tcpACK, payloadOf(1000, 3)) // 500 bytes missing
	syn := tcpPacket(false, 204, 1<<31+4500, tcpACK|tcpSYN, nil)
	bad := tcpPacket(false, 205, 1<<31+4500, tcpACK, payloadOf(1000, 5))
	bad[len(bad)-1] ^= 0xff // corrupt payload, checksum now wrong
	other, _ := stream(true, 2, 1000, 1000)
	udp := ipPacket(false, protoUDP, 9, make([]byte, 100), 6)

	var c coalescer
	batch := slots(off, a[0], other[0], a[1], a[2], other[1], gap, syn, bad, udp)
	frames, err := c.coalesce(batch, off)
	if err != nil {
		t.Fatal(err)
	}
	// a[0..2] merge; other[0..1] merge; gap, syn, bad and udp stand alone.
	if len(frames) != 6 {
		t.Fatalf("got %d writes, want 6", len(frames))
	}
	segsOf := func(f []byte) int {
		var h header
		h.decode(f)
		if h.gsoType == gsoNone {
			if h != (header{}) {
				t.Errorf("single packet with header %+v, want all zero", h)
			}
			return 1
		}
		return len(split(t, f, 64))
	}
	want := []int{3, 2, 1, 1, 1, 1}
	for i, f := range frames {
		if got := segsOf(f); got != want[i] {
			t.Errorf("write %d holds %d segments, want %d", i, got, want[i])
		}
	}
	if !bytes.Equal(frames[5][HeaderLen:], udp) || !bytes.Equal(frames[4][HeaderLen:], bad) {
		t.Error("a packet that was not merged was changed")
	}

	// A segment that cannot be merged (here a FIN) ends its stream's
	// super-packet: the data after it is not written before it.
	fin := tcpPacket(false, 202, 1<<31+2000, tcpACK|tcpFIN, nil)
	next := tcpPacket(false, 203, 1<<31+2000, tcpACK, payloadOf(1000, 3))
	if frames, _ := c.coalesce(slots(off, a[0], a[1], fin, next), off); len(frames) != 3 {
		t.Errorf("data, data, FIN, data: %d writes, want 3 (the first two merged)", len(frames))
	}

	// A slot without room to grow is never merged into.
	small := slots(off, a[0], a[1])
	small[0] = small[0][:len(small[0]):len(small[0])]
	if frames, _ := c.coalesce(small, off); len(frames) != 2 {
		t.Errorf("merge into a full slot: %d writes, want 2", len(frames))
	}
	if _, err := c.coalesce(slots(4, a[0]), 4); err == nil {
		t.Error("4 bytes of headroom accepted")
	}
}

// FuzzCoalesce feeds arbitrary packets, alone and next to valid segments,
// through coalescing, then splits every merged write: nothing may panic,
// and every write must split into packets that are valid on their own.
func FuzzCoalesce(f *testing.F) {
	pkts, _ := stream(false, 2, 100, 100)
	f.Add(pkts[0], pkts[1])
	p6, _ := stream(true, 2, 100, 60)
	f.Add(p6[0], p6[1])
	// Buffers are made once: a fuzz worker runs the function thousands of
	// times a second, and minimizing an input runs it many more.
	const off = 16
	batch := slots(off, make([]byte, 65536-off), nil, pkts[0], pkts[1])
	seg := make([]byte, 65536)
	var c coalescer
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) > 65536-off || len(b) > 65536-off {
			return
		}
		for i, p := range [][]byte{a, b, pkts[0], pkts[1]} {
			batch[i] = batch[i][:off+len(p)]
			copy(batch[i][off:], p)
		}
		frames, err := c.coalesce(batch, off)
		if err != nil {
			t.Fatal(err)
		}
		for _, fr := range frames {
			var h header
			h.decode(fr)
			if h.gsoType == gsoNone {
				continue
			}
			var sp superPacket
			if err := sp.reset(fr); err != nil {
				t.Fatalf("a merged write is not a valid super-packet: %v", err)
			}
			for i := 0; !sp.done() && i < 100; i++ {
				n, err := sp.next(seg)
				if err != nil {
					t.Fatal(err)
				}
				checkValid(t, "segment of a merged write", seg[:n])
			}
		}
	})
}

// FuzzSplit reads arbitrary bytes as a device read: it must be refused or
// split without panicking, within the buffers given.
func FuzzSplit(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new code,
	// and that takes long for big ones.
	f.Add(superFrame(false, 1, tcpACK, payloadOf(300, 1), 100))
	f.Add(superFrame(true, 1, tcpACK|tcpPSH, payloadOf(200, 1), 64))
	buf := make([]byte, 1500)
	var sp superPacket
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := sp.reset(b); err != nil {
			return
		}
		for i := 0; !sp.done() && i < 200; i++ {
			if _, err := sp.next(buf); err != nil {
				return
			}
		}
	})
}
