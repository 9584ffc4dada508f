package icmpecho

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestChecksumKnownAnswer(t *testing.T) {
	// RFC 1071 section 3 example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
	if got := Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Fatalf("checksum = %#04x, want %#04x", got, ^uint16(0xddf2))
	}
	if got := Checksum([]byte{0xff}); got != ^uint16(0xff00) {
		t.Fatalf("odd-length checksum = %#04x", got)
	}
}

func TestEchoRoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddr("10.8.0.1"), netip.MustParseAddr("10.8.0.2")
	p := Packet{Src: src, Dst: dst, Type: Request, ID: 0x1234, Seq: 7, Payload: []byte("payload")}.Marshal()
	if len(p) != 20+8+7 || p[0] != 0x45 || p[9] != 1 {
		t.Fatalf("bad IPv4 header % x", p[:20])
	}
	if Checksum(p[:20]) != 0 || Checksum(p[20:]) != 0 {
		t.Fatal("header or ICMP checksum does not verify")
	}
	e, ok := Parse(p)
	if !ok || e.Src != src || e.Dst != dst || e.Type != Request || e.ID != 0x1234 || e.Seq != 7 || !bytes.Equal(e.Payload, []byte("payload")) {
		t.Fatalf("Parse = %+v, %v", e, ok)
	}
	for _, bad := range [][]byte{nil, p[:27], append([]byte{0x60}, p[1:]...), append(append([]byte{}, p[:9]...), append([]byte{6}, p[10:]...)...)} {
		if _, ok := Parse(bad); ok {
			t.Errorf("Parse accepted % x", bad)
		}
	}
}
