package ifalias

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

func TestRequestNumbers(t *testing.T) {
	if got := IOW('i', 26, 64); got != SIOCAIFADDR {
		t.Errorf("SIOCAIFADDR %#x", got)
	}
	if got := IOW('i', 26, 128); got != SIOCAIFADDR_IN6 {
		t.Errorf("SIOCAIFADDR_IN6 %#x", got)
	}
	if got := IOW('i', 25, 32); got != SIOCDIFADDR {
		t.Errorf("SIOCDIFADDR %#x", got)
	}
	if got := IOW('i', 25, 288); got != SIOCDIFADDR_IN6 {
		t.Errorf("SIOCDIFADDR_IN6 %#x", got)
	}
	if got := IOW('i', 16, 32); got != SIOCSIFFLAGS {
		t.Errorf("SIOCSIFFLAGS %#x", got)
	}
}

func TestAliasReq4(t *testing.T) {
	b, err := AliasReq4("utun4", netip.MustParsePrefix("10.8.0.6/24"), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("" +
		"7574756e340000000000000000000000" + // "utun4"
		"10020000" + "0a080006" + "0000000000000000" + // addr 10.8.0.6
		"10020000" + "0a080006" + "0000000000000000" + // dst = addr
		"10020000" + "ffffff00" + "0000000000000000") // mask /24
	if !bytes.Equal(b, want) {
		t.Fatalf("ifaliasreq\n got %x\nwant %x", b, want)
	}
	b, err = AliasReq4("utun4", netip.MustParsePrefix("10.8.0.6/32"), netip.MustParseAddr("10.8.0.5"))
	if err != nil {
		t.Fatal(err)
	}
	if b[36] != 10 || b[39] != 5 || !bytes.Equal(b[52:56], []byte{255, 255, 255, 255}) {
		t.Fatalf("p2p ifaliasreq %x", b)
	}
}

func TestAliasReq6(t *testing.T) {
	b, err := AliasReq6("utun4", netip.MustParsePrefix("2001:db8::1000/64"), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 128 {
		t.Fatalf("len %d", len(b))
	}
	want := map[int]string{
		16:  "1c1e0000" + "00000000" + "20010db8000000000000000000001000" + "00000000",
		44:  strings.Repeat("00", 28),
		72:  "1c1e0000" + "00000000" + "ffffffffffffffff0000000000000000" + "00000000",
		100: "20000000",
		104: strings.Repeat("00", 16) + "ffffffff" + "ffffffff",
	}
	for off, h := range want {
		w, _ := hex.DecodeString(h)
		if got := b[off : off+len(w)]; !bytes.Equal(got, w) {
			t.Errorf("offset %d: %x want %x", off, got, w)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := AliasReq4("utun4", netip.MustParsePrefix("::1/128"), netip.Addr{}); err == nil {
		t.Error("IPv6 in AliasReq4")
	}
	if _, err := AliasReq6("utun4", netip.MustParsePrefix("10.0.0.1/8"), netip.Addr{}); err == nil {
		t.Error("IPv4 in AliasReq6")
	}
	if _, err := IfreqFlags("a-name-that-is-too-long", FlagUp); err == nil || !strings.Contains(err.Error(), "1 to 15") {
		t.Errorf("long name: %v", err)
	}
	b, _ := IfreqFlags("utun4", FlagUp)
	if b[16] != 1 || b[17] != 0 || len(b) != 32 {
		t.Errorf("ifreq %x", b)
	}
}

func TestDelReq(t *testing.T) {
	b, err := DelReq4("utun3", netip.MustParseAddr("10.8.0.6"))
	if err != nil || len(b) != 32 || string(b[:5]) != "utun3" || b[16] != 16 || b[17] != 2 || netip.AddrFrom4([4]byte(b[20:24])).String() != "10.8.0.6" {
		t.Fatalf("DelReq4 % x (%v)", b, err)
	}
	b, err = DelReq6("utun3", netip.MustParseAddr("2001:db8::6"))
	if err != nil || len(b) != 288 || b[16] != 28 || b[17] != 30 || netip.AddrFrom16([16]byte(b[24:40])).String() != "2001:db8::6" {
		t.Fatalf("DelReq6 % x (%v)", b, err)
	}
	if _, err := DelReq4("utun3", netip.MustParseAddr("2001:db8::6")); err == nil {
		t.Error("DelReq4 took an IPv6 address")
	}
	if _, err := DelReq6("utun3", netip.MustParseAddr("10.8.0.6")); err == nil {
		t.Error("DelReq6 took an IPv4 address")
	}
}
