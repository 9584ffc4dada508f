package winroute

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/routing"
)

var locals = Locals{netip.MustParsePrefix("192.168.1.20/24"), netip.MustParsePrefix("fd00::20/64"), netip.MustParsePrefix("127.0.0.1/8")}

func TestType(t *testing.T) {
	for _, c := range []struct {
		dst      string
		loopback bool
		want     uint8
	}{
		{"192.168.1.20/32", false, routing.TypeLocal},
		{"192.168.1.255/32", false, routing.TypeBroadcast},
		{"255.255.255.255/32", false, routing.TypeBroadcast},
		{"224.0.0.0/4", false, routing.TypeMulticast},
		{"ff00::/8", false, routing.TypeMulticast},
		{"fd00::20/128", false, routing.TypeLocal},
		{"127.0.0.1/32", true, routing.TypeLocal},
		{"192.168.1.0/24", false, routing.TypeUnicast},
		{"0.0.0.0/0", false, routing.TypeUnicast},
		{"192.168.1.7/32", false, routing.TypeUnicast},
	} {
		if got := Type(netip.MustParsePrefix(c.dst), c.loopback, locals); got != c.want {
			t.Errorf("Type(%s) = %d, want %d", c.dst, got, c.want)
		}
	}
}

func TestProtoMapping(t *testing.T) {
	for _, p := range []uint32{ProtoOther, ProtoLocal, ProtoNetMgmt, 14, ProtoNTAutostatic, ProtoNTStatic, ProtoNTStaticNoDOD} {
		b := ProtoFromWindows(p)
		if b == 0 || b == 0x9c || ProtoToWindows(b) != p {
			t.Errorf("protocol %d -> %d -> %d", p, b, ProtoToWindows(b))
		}
	}
	if ProtoToWindows(0x9c) != 0 {
		t.Error("ProtoCVPN maps to a Windows protocol")
	}
	if ProtoFromWindows(50000) != 0 {
		t.Error("unknown protocol mapped")
	}
}

func TestRowRoundTrip(t *testing.T) {
	row := Row{
		LUID: 0x6008000000000, Index: 12, Dst: netip.MustParsePrefix("172.31.1.0/24"),
		NextHop: netip.MustParseAddr("192.168.1.1"), Metric: 25, Protocol: ProtoNTStatic,
		Publish: true, Immortal: true, Origin: 1, SitePrefixLength: 0,
	}
	names := func(i uint32) string {
		if i == 12 {
			return "Ethernet"
		}
		return ""
	}
	r := ToRoute(row, names, locals)
	want := routing.Route{
		Dst: row.Dst, Gateway: row.NextHop, Interface: "Ethernet", IfIndex: 12, Metric: 25,
		Protocol: 246, Type: routing.TypeUnicast, Flags: FlagPublish | FlagImmortal | 1<<8,
	}
	if !r.Equal(want) {
		t.Fatalf("ToRoute\n got %v\nwant %v", r, want)
	}
	back, err := FromRoute(r, row.LUID, row.Index)
	if err != nil {
		t.Fatal(err)
	}
	if back != row {
		t.Fatalf("FromRoute\n got %+v\nwant %+v", back, row)
	}

	// On-link route: unspecified next hop both ways; our routes are NetMgmt.
	onlink := routing.Route{Dst: netip.MustParsePrefix("0.0.0.0/1"), IfIndex: 30, Protocol: 0x9c}
	row2, err := FromRoute(onlink, 7, 30)
	if err != nil {
		t.Fatal(err)
	}
	if row2.NextHop != netip.IPv4Unspecified() || row2.Protocol != ProtoNetMgmt {
		t.Fatalf("on-link row %+v", row2)
	}
	if got := ToRoute(row2, nil, nil); got.Gateway.IsValid() {
		t.Fatalf("on-link route got gateway %v", got.Gateway)
	}
	row6, _ := FromRoute(routing.Route{Dst: netip.MustParsePrefix("2000::/4"), IfIndex: 30}, 7, 30)
	if row6.NextHop != netip.IPv6Unspecified() {
		t.Fatalf("v6 next hop %v", row6.NextHop)
	}
	if !SameRoute(row2, Row{LUID: 7, Dst: netip.MustParsePrefix("0.0.0.0/1"), NextHop: netip.IPv4Unspecified(), Metric: 99}) {
		t.Error("SameRoute ignores metric")
	}
	if _, err := FromRoute(routing.Route{Dst: row.Dst, Gateway: netip.MustParseAddr("fe80::1")}, 1, 1); err == nil || !strings.Contains(err.Error(), "other family") {
		t.Errorf("family mismatch: %v", err)
	}
}

func TestBestRoute(t *testing.T) {
	routes := []routing.Route{
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.1.1"), IfIndex: 12, Metric: 0},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1"), IfIndex: 13, Metric: 0},
		{Dst: netip.MustParsePrefix("192.168.1.0/24"), IfIndex: 12, Metric: 256},
		{Dst: netip.MustParsePrefix("192.168.1.20/32"), IfIndex: 12, Metric: 256, Type: routing.TypeLocal},
	}
	// Wi-Fi (13) has interface metric 50, Ethernet (12) 25.
	ifm := func(idx int, v6 bool) uint32 { return map[int]uint32{12: 25, 13: 50}[idx] }
	r, ok := BestRoute(routes, ifm, netip.MustParseAddr("203.0.113.9"))
	if !ok || r.IfIndex != 12 || r.Gateway != netip.MustParseAddr("192.168.1.1") {
		t.Fatalf("default: %v %v", r, ok)
	}
	ifm2 := func(idx int, v6 bool) uint32 { return map[int]uint32{12: 75, 13: 50}[idx] }
	if r, _ := BestRoute(routes, ifm2, netip.MustParseAddr("203.0.113.9")); r.IfIndex != 13 {
		t.Fatalf("interface metric ignored: %v", r)
	}
	if r, _ := BestRoute(routes, ifm, netip.MustParseAddr("192.168.1.7")); r.Dst.Bits() != 24 {
		t.Fatalf("longest prefix: %v", r)
	}
	if r, _ := BestRoute(routes, ifm, netip.MustParseAddr("192.168.1.20")); r.Type != routing.TypeLocal {
		t.Fatalf("own address: %v", r)
	}
	if _, ok := BestRoute(routes, ifm, netip.MustParseAddr("2001:db8::1")); ok {
		t.Fatal("IPv6 destination matched an IPv4 route")
	}
}

func TestInterfacePrefix(t *testing.T) {
	for _, c := range []struct{ p, peer, want string }{
		{"10.8.0.6/32", "10.8.0.5", "10.8.0.6/30"},
		{"10.8.0.6/32", "10.8.0.1", "10.8.0.6/29"},
		{"10.8.0.6/24", "", "10.8.0.6/24"},
		{"2001:db8::2/128", "2001:db8::1", "2001:db8::2/126"},
	} {
		var peer netip.Addr
		if c.peer != "" {
			peer = netip.MustParseAddr(c.peer)
		}
		if got := InterfacePrefix(netip.MustParsePrefix(c.p), peer); got.String() != c.want {
			t.Errorf("InterfacePrefix(%s, %s) = %s, want %s", c.p, c.peer, got, c.want)
		}
	}
}

func TestResolveName(t *testing.T) {
	taken := map[string]bool{"cvpn0": true, "cvpn1": true}
	exists := func(n string) bool { return taken[n] }
	if n, err := ResolveName("cvpn%d", exists); err != nil || n != "cvpn2" {
		t.Fatalf("got %q %v", n, err)
	}
	if n, err := ResolveName("corp", exists); err != nil || n != "corp" {
		t.Fatalf("plain name %q %v", n, err)
	}
	if _, err := ResolveName("a%sb", exists); err == nil {
		t.Fatal("inner % accepted")
	}
	if _, err := ResolveName("x%d", func(string) bool { return true }); err == nil || !strings.Contains(err.Error(), "all taken") {
		t.Fatalf("all taken: %v", err)
	}
}
