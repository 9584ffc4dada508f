package routesock

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/routing"
)

// These tests run on macOS: Marshal and Parse use golang.org/x/net/route,
// which builds only for the BSDs. The same messages, as Message values,
// are converted by the tests of routesock_test.go on every OS.

// marshal encodes m and strips the 1024 zero bytes x/net/route appends to
// every message on macOS (golang.org/issue/22456), checking that
// rtm_msglen counts them.
func marshal(t *testing.T, m *Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := int(b[0]) | int(b[1])<<8; got != len(b) {
		t.Fatalf("rtm_msglen %d, message %d bytes", got, len(b))
	}
	n := len(b) - 1024
	if n < HeaderLen || !bytes.Equal(b[n:], make([]byte, 1024)) {
		t.Fatalf("message of %d bytes does not end in 1024 zero bytes", len(b))
	}
	out := append([]byte(nil), b[:n]...)
	out[0], out[1] = byte(n), byte(n>>8)
	return out
}

// unhex decodes hex written with single spaces and line breaks for
// readability; two or more spaces start a comment up to the end of the line.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "  "); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.ReplaceAll(line, " ", ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// header writes a rt_msghdr by hand: length, version 5, type, index,
// flags, addrs, pid, seq, errno; everything else zero.
func header(msglen int, typ byte, index uint16, flags, addrs uint32, pid, seq, errno int32) []byte {
	b := make([]byte, HeaderLen)
	b[0], b[1] = byte(msglen), byte(msglen>>8) // rtm_msglen (u_short)
	b[2] = 5                                   // rtm_version = RTM_VERSION
	b[3] = typ                                 // rtm_type
	b[4], b[5] = byte(index), byte(index>>8)   // rtm_index (u_short), then 2 bytes padding
	put32 := func(off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	put32(8, flags)          // rtm_flags
	put32(12, addrs)         // rtm_addrs
	put32(16, uint32(pid))   // rtm_pid
	put32(20, uint32(seq))   // rtm_seq
	put32(24, uint32(errno)) // rtm_errno
	// 28 rtm_use, 32 rtm_inits, 36..91 struct rt_metrics
	return b
}

func TestMarshalAddKnownBytes(t *testing.T) {
	r := routing.Route{
		Dst:      netip.MustParsePrefix("10.1.0.0/16"),
		Gateway:  netip.MustParseAddr("192.168.1.1"),
		Protocol: Proto,
	}
	m, err := FromRoute(TypeAdd, r, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	got := marshal(t, m)
	want := unhex(t, `
		8c00 05 01 0000 0000        msglen 140, version 5, RTM_ADD, index 0, padding
		03880000                    flags RTF_UP|RTF_GATEWAY|RTF_STATIC|RTF_PROTO1 = 0x8803
		07000000                    addrs RTA_DST|RTA_GATEWAY|RTA_NETMASK
		00000000 07000000 00000000  pid 0, seq 7, errno 0
		00000000 00000000           use, inits
		`+strings.Repeat("00", 56)+`   rt_metrics
		1002 0000 0a010000 0000000000000000   sockaddr_in 10.1.0.0
		1002 0000 c0a80101 0000000000000000   sockaddr_in 192.168.1.1
		1002 0000 ffff0000 0000000000000000   sockaddr_in 255.255.0.0
	`)
	if !bytes.Equal(got, want) {
		t.Fatalf("RTM_ADD bytes\n got %x\nwant %x", got, want)
	}
}

func TestMarshalDeleteInterfaceRouteV6(t *testing.T) {
	// 2001:db8::/32 to utun5 (index 17): the gateway is an AF_LINK address
	// naming the interface by index.
	r := routing.Route{Dst: netip.MustParsePrefix("2001:db8::/32"), IfIndex: 17}
	m, err := FromRoute(TypeDelete, r, 17, 9)
	if err != nil {
		t.Fatal(err)
	}
	got := marshal(t, m)
	want := header(92+28+20+28, TypeDelete, 0, FlagUp|FlagStatic, RTADst|RTAGateway|RTANetmask, 0, 9, 0)
	want = append(want, unhex(t, `
		1c1e 0000 00000000 20010db8000000000000000000000000 00000000  sockaddr_in6 2001:db8::
		1412 1100 00 00 00 00 000000000000000000000000                sockaddr_dl index 17
		1c1e 0000 00000000 ffffffff000000000000000000000000 00000000  sockaddr_in6 mask /32
	`)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("RTM_DELETE bytes\n got %x\nwant %x", got, want)
	}
}

// dumpBytes is a recorded-style NET_RT_DUMP buffer: five route messages and one
// interface message, as the kernel lays them out (shortened netmasks,
// sockaddr_dl gateways, KAME-scoped link-local addresses).
func dumpBytes(t *testing.T) []byte {
	var b []byte
	// 1. default via 192.168.1.1 on en0 (index 6), flags UGScg; the /0
	//    netmask is a zero-length sockaddr taking 4 bytes.
	b = append(b, header(92+16+16+4, TypeGet, 6, FlagUp|FlagGateway|FlagStatic|FlagPRCloning|FlagGlobal, RTADst|RTAGateway|RTANetmask, 0, 0, 0)...)
	b = append(b, unhex(t, `
		1002 0000 00000000 0000000000000000   dst 0.0.0.0
		1002 0000 c0a80101 0000000000000000   gateway 192.168.1.1
		00000000                              netmask: length 0
	`)...)
	// 2. 192.168.1.0/24 link#6, flags UCS; netmask shortened to 7 bytes
	//    (padded to 8); gateway is en0's sockaddr_dl (type 6 = ethernet).
	b = append(b, header(92+16+20+8, TypeGet, 6, FlagUp|FlagCloning|FlagStatic, RTADst|RTAGateway|RTANetmask, 0, 0, 0)...)
	b = append(b, unhex(t, `
		1002 0000 c0a80100 0000000000000000          dst 192.168.1.0
		1412 0600 06 00 00 00 000000000000000000000000  gateway link#6
		0702 0000 ffffff 00                          netmask 255.255.255 (+1 pad)
	`)...)
	// 3. ARP entry 192.168.1.1 (UHLWIir): a cache entry, skipped by ToRoute.
	b = append(b, header(92+16+20, TypeGet, 6, FlagUp|FlagHost|FlagLLInfo|FlagWasCloned, RTADst|RTAGateway, 0, 0, 0)...)
	b = append(b, unhex(t, `
		1002 0000 c0a80101 0000000000000000               dst 192.168.1.1
		1412 0600 06 00 06 00 a0b1c2d3e4f5000000000000    gateway link#6 lladdr a0:b1:c2:d3:e4:f5
	`)...)
	// 4. scoped default via 10.0.0.1 on en1 (index 7), flags UGSI.
	b = append(b, header(92+16+16+4, TypeGet, 7, FlagUp|FlagGateway|FlagStatic|FlagIfScope, RTADst|RTAGateway|RTANetmask, 0, 0, 0)...)
	b = append(b, unhex(t, `
		1002 0000 00000000 0000000000000000
		1002 0000 0a000001 0000000000000000
		00000000
	`)...)
	// An RTM_IFINFO (type 0x0e) message of 112 bytes: skipped.
	ifinfo := make([]byte, 112)
	ifinfo[0], ifinfo[2], ifinfo[3] = 112, 5, 0x0e
	b = append(b, ifinfo...)
	// 5. fe80::%en0/64 link#6: KAME form fe80:6::, netmask shortened to 16
	//    bytes (8 bytes of header, 8 bytes of ff).
	b = append(b, header(92+28+20+16, TypeGet, 6, FlagUp|FlagCloning, RTADst|RTAGateway|RTANetmask, 0, 0, 0)...)
	b = append(b, unhex(t, `
		1c1e 0000 00000000 fe800006000000000000000000000000 00000000
		1412 0600 06 00 00 00 000000000000000000000000
		101e 0000 00000000 ffffffffffffffff
	`)...)
	return b
}

func TestParseDump(t *testing.T) {
	msgs, err := Parse(dumpBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	want := dumpMessages()
	if len(msgs) != len(want) {
		t.Fatalf("%d route messages, want %d (the RTM_IFINFO skipped)", len(msgs), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(msgs[i], want[i]) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, msgs[i], want[i])
		}
	}
}

func TestParseGetReply(t *testing.T) {
	// Reply to RTM_GET 1.1.1.1 by pid 4242, seq 3: via 192.168.1.1 on en0,
	// RTA_IFP en0 (sockaddr_dl with the name) and RTA_IFA 192.168.1.20.
	b := header(92+16+16+4+20+16, TypeGet, 6, FlagUp|FlagGateway|FlagStatic|FlagDone,
		RTADst|RTAGateway|RTANetmask|RTAIFP|RTAIFA, 4242, 3, 0)
	b = append(b, unhex(t, `
		1002 0000 00000000 0000000000000000        dst 0.0.0.0 (the route found)
		1002 0000 c0a80101 0000000000000000        gateway
		00000000                                   netmask /0
		1412 0600 06 03 06 00 656e30 a0b1c2d3e4f5 000000   ifp: index 6, nlen 3 "en0", alen 6
		1002 0000 c0a80114 0000000000000000        ifa 192.168.1.20
	`)...)
	b[28] = 5 // rtm_use: x/net/route reads this as the errno (golang/go#70593)
	msgs, err := Parse(b)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("parse: %v, %d messages", err, len(msgs))
	}
	want := getReply()
	if !reflect.DeepEqual(msgs[0], want) {
		t.Fatalf("reply\n got %+v\nwant %+v", msgs[0], want)
	}
	hop, err := HopFromReply(&msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if hop != getReplyHop {
		t.Fatalf("hop %+v, want %+v", hop, getReplyHop)
	}

	// A failed RTM_GET (ESRCH = 3) comes back with rtm_errno set.
	bad := header(92+16, TypeGet, 0, FlagUp|FlagHost, RTADst, 4242, 4, 3)
	bad = append(bad, unhex(t, "1002 0000 0a0a0a0a 0000000000000000")...)
	msgs, err = Parse(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := HopFromReply(&msgs[0]); err == nil || !strings.Contains(err.Error(), "errno 3") {
		t.Fatalf("error %v, want errno 3", err)
	}
}

func TestGetRequestBytes(t *testing.T) {
	got := marshal(t, GetRequest(netip.MustParseAddr("8.8.8.8"), 11))
	want := header(92+16+20, TypeGet, 0, FlagUp|FlagHost, RTADst|RTAIFP, 0, 11, 0)
	want = append(want, unhex(t, `
		1002 0000 08080808 0000000000000000
		1412 0000 00 00 00 00 000000000000000000000000   empty sockaddr_dl asks for the interface
	`)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("RTM_GET\n got %x\nwant %x", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	cases := []routing.Route{
		{Dst: netip.MustParsePrefix("172.31.0.0/16"), Gateway: netip.MustParseAddr("10.8.0.1"), Protocol: Proto},
		{Dst: netip.MustParsePrefix("203.0.113.7/32"), Gateway: netip.MustParseAddr("192.168.1.1"), Protocol: Proto},
		{Dst: netip.MustParsePrefix("0.0.0.0/1"), IfIndex: 17},
		{Dst: netip.MustParsePrefix("2000::/4"), IfIndex: 17, Protocol: Proto},
		{Dst: netip.MustParsePrefix("2001:db8:1::/48"), Gateway: netip.MustParseAddr("fe80::1%6")},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1"), Table: ScopedTable + 7},
		{Dst: netip.MustParsePrefix("198.51.100.0/24"), IfIndex: 6, Type: routing.TypeBlackhole},
	}
	for _, r := range cases {
		m, err := FromRoute(TypeAdd, r, r.IfIndex, 1)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		b := marshal(t, m)
		msgs, err := Parse(b)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%v: parse %v", r, err)
		}
		got, ok := msgs[0].ToRoute(nil)
		if !ok {
			t.Fatalf("%v: not a route", r)
		}
		if got.Dst != r.Dst || got.Gateway != r.Gateway || got.Protocol != r.Protocol || got.Table != r.Table {
			t.Errorf("round trip %v -> %v", r, got)
		}
		if r.Table == 0 && r.Gateway.IsValid() == false && got.IfIndex != r.IfIndex {
			t.Errorf("round trip %v: ifindex %d", r, got.IfIndex)
		}
		wantType := r.Type
		if wantType == 0 {
			wantType = routing.TypeUnicast
		}
		if got.Type != wantType {
			t.Errorf("round trip %v: type %d want %d", r, got.Type, wantType)
		}
		// Restoring what was listed gives the same message again.
		m2, err := FromRoute(TypeAdd, got, got.IfIndex, 1)
		if err != nil {
			t.Fatal(err)
		}
		b2 := marshal(t, m2)
		if !bytes.Equal(b, b2) {
			t.Errorf("%v: re-encoding differs\n%x\n%x", r, b, b2)
		}
	}
}

func TestKAMEGateway(t *testing.T) {
	m, err := FromRoute(TypeAdd, routing.Route{Dst: netip.MustParsePrefix("2001:db8::/32"), Gateway: netip.MustParseAddr("fe80::1%6")}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := marshal(t, m)
	// The gateway is the second address: after the header and the 28-byte dst.
	gw := b[92+28 : 92+56]
	if want := unhex(t, "fe800006000000000000000000000001"); !bytes.Equal(gw[8:24], want) {
		t.Fatalf("gateway bytes %x, want KAME %x", gw[8:24], want)
	}
}

func TestParseErrors(t *testing.T) {
	b := header(92+16, TypeAdd, 0, FlagUp, RTADst|RTAGateway, 0, 0, 0)
	b = append(b, unhex(t, "1002 0000 0a000000 0000000000000000")...)
	// x/net/route stops at the end of the message: an address announced
	// but missing stays absent rather than being read from past the end.
	if msgs, err := Parse(b); err != nil || len(msgs) != 1 || msgs[0].Addrs[AxGateway] != nil || msgs[0].Addrs[AxDst] == nil {
		t.Errorf("missing address: %v %+v", err, msgs)
	}
	if _, err := Parse(b[:50]); err == nil || !strings.Contains(err.Error(), "length 108, 50 bytes left") {
		t.Errorf("truncated: %v", err)
	}
	short := header(40, TypeAdd, 0, 0, 0, 0, 0, 0)[:40]
	if _, err := Parse(short); err == nil || !strings.Contains(err.Error(), "header needs 92") {
		t.Errorf("short header: %v", err)
	}
}
