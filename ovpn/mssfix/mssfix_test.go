package mssfix

import (
	"encoding/binary"
	"testing"
)

// synPacket builds an IPv4 TCP SYN with an MSS option and a valid checksum.
func synPacket(mss uint16) []byte {
	p := make([]byte, 20+24)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64
	p[9] = 6
	copy(p[12:16], []byte{10, 8, 0, 2})
	copy(p[16:20], []byte{198, 19, 0, 2})
	tcp := p[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 443)
	tcp[12] = 6 << 4 // 24-byte header
	tcp[13] = 0x02   // SYN
	tcp[20], tcp[21] = 2, 4
	binary.BigEndian.PutUint16(tcp[22:], mss)
	binary.BigEndian.PutUint16(tcp[16:], tcpChecksum(p))
	return p
}

func tcpChecksum(p []byte) uint16 {
	tcp := p[20:]
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(p[12:20])
	sum += 6 + uint32(len(tcp))
	saved := binary.BigEndian.Uint16(tcp[16:])
	binary.BigEndian.PutUint16(tcp[16:], 0)
	add(tcp)
	binary.BigEndian.PutUint16(tcp[16:], saved)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestClamp(t *testing.T) {
	p := synPacket(1460)
	Clamp(p, 1360)
	if got := binary.BigEndian.Uint16(p[42:]); got != 1360 {
		t.Fatalf("MSS = %d, want 1360", got)
	}
	if got, want := binary.BigEndian.Uint16(p[36:]), tcpChecksum(p); got != want {
		t.Fatalf("checksum after clamping = %#04x, want %#04x", got, want)
	}
	small := synPacket(1200)
	Clamp(small, 1360)
	if got := binary.BigEndian.Uint16(small[42:]); got != 1200 {
		t.Fatalf("a smaller MSS was changed to %d", got)
	}
	notSyn := synPacket(1460)
	notSyn[33] = 0x10 // ACK only
	Clamp(notSyn, 1000)
	if got := binary.BigEndian.Uint16(notSyn[42:]); got != 1460 {
		t.Fatal("a non-SYN packet was changed")
	}
	for n := 0; n < len(p); n++ { // truncated packets never panic
		Clamp(append([]byte(nil), p[:n]...), 1000)
	}
}

// TestTargetsMatchOpenVPN checks the clamp against the mss_fix values
// OpenVPN 2.6.14 prints at verb 4 ("Data Channel MTU parms") for the same
// settings: AES-256-GCM with peer-id (24 bytes of data channel overhead)
// over IPv4.
func TestTargetsMatchOpenVPN(t *testing.T) {
	cases := []struct {
		name     string
		max      int
		mode     string
		reliable bool
		outer6   bool
		want4    uint16
		want6    uint16
	}{
		{"udp default (1492 mtu)", 1492, "mtu", false, false, 1400, 1380},
		{"udp mssfix 1328", 1328, "", false, false, 1264, 1244},
		{"udp mssfix 1400 fixed", 1400, "fixed", false, false, 1360, 1340},
		{"tcp default (1492 mtu)", 1492, "mtu", true, false, 1386, 1366},
		{"tcp mssfix 1328", 1328, "", true, false, 1262, 1242},
		{"tcp mssfix 1400 fixed", 1400, "fixed", true, false, 1360, 1340},
		{"udp default over IPv6", 1492, "mtu", false, true, 1380, 1360},
		{"mssfix 0 is off", 0, "mtu", false, false, 0, 0},
		{"too small to clamp", 60, "mtu", false, false, 0, 0},
	}
	for _, c := range cases {
		v4, v6 := Targets(c.max, c.mode, 24, c.reliable, c.outer6)
		if v4 != c.want4 || v6 != c.want6 {
			t.Errorf("%s: mss %d/%d, want %d/%d", c.name, v4, v6, c.want4, c.want6)
		}
	}
	// A full segment with timestamps, encapsulated, fits the 1492 target.
	v4, _ := Targets(1492, "mtu", 24, false, false)
	if pkt := int(v4) + 40 + 24 + 28; pkt > 1492 {
		t.Errorf("a %d-byte segment makes a %d-byte UDP packet, over 1492", v4, pkt)
	}
}

func TestSYN(t *testing.T) {
	if !SYN(synPacket(1460)) {
		t.Fatal("a SYN was not recognised")
	}
	ack := synPacket(1460)
	ack[33] = 0x10
	if SYN(ack) {
		t.Fatal("an ACK was taken for a SYN")
	}
	udp := synPacket(1460)
	udp[9] = 17
	if SYN(udp) {
		t.Fatal("a UDP packet was taken for a SYN")
	}
	frag := synPacket(1460)
	frag[7] = 8 // fragment offset 64 bytes
	if SYN(frag) {
		t.Fatal("a later fragment was taken for a SYN")
	}
	p := synPacket(1460)
	for n := 0; n < len(p); n++ { // truncated packets never panic
		SYN(p[:n])
	}
}

// TestDefaultForTunnelMTU: OpenVPN 2.6.14 at verb 4 prints mss_fix:1360
// for tun-mtu 1400 without an mssfix size, and 1400 for tun-mtu 1500
// (AES-256-GCM over UDP/IPv4).
func TestDefaultForTunnelMTU(t *testing.T) {
	for _, c := range []struct {
		mtu  int
		want uint16
	}{{1400, 1360}, {1500, 1400}, {0, 1400}, {9000, 8960}} {
		max, mode := DefaultFor(c.mtu)
		if v4, _ := Targets(max, mode, 24, false, false); v4 != c.want {
			t.Errorf("tun-mtu %d: mss %d, want %d", c.mtu, v4, c.want)
		}
	}
}
