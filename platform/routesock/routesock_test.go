package routesock

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/netmask"
	"github.com/cvpn/cvpn/routing"
)

func TestToRouteDump(t *testing.T) {
	msgs := dumpMessages()
	names := func(i int) string { return map[int]string{6: "en0", 7: "en1"}[i] }
	var routes []routing.Route
	for i := range msgs {
		if r, ok := msgs[i].ToRoute(names); ok {
			routes = append(routes, r)
		}
	}
	if len(routes) != len(dumpRoutes) {
		t.Fatalf("routes:\n%v\nwant\n%v", routes, dumpRoutes)
	}
	for i := range dumpRoutes {
		if !routes[i].Equal(dumpRoutes[i]) {
			t.Errorf("route %d:\n got %v\nwant %v", i, routes[i], dumpRoutes[i])
		}
	}
	if !msgs[2].IsCache() {
		t.Error("ARP entry not reported as cache")
	}
}

func TestHopFromReply(t *testing.T) {
	m := getReply()
	hop, err := HopFromReply(&m)
	if err != nil {
		t.Fatal(err)
	}
	if hop != getReplyHop {
		t.Fatalf("hop %+v, want %+v", hop, getReplyHop)
	}
	// A failed RTM_GET (ESRCH = 3) comes back with rtm_errno set.
	bad := Message{Type: TypeGet, Flags: FlagUp | FlagHost, PID: 4242, Seq: 4, Errno: 3}
	bad.Addrs[AxDst] = inet("10.10.10.10")
	if _, err := HopFromReply(&bad); err == nil || !strings.Contains(err.Error(), "errno 3") {
		t.Fatalf("error %v, want errno 3", err)
	}
	bad.Type, bad.Errno = TypeAdd, 0
	if _, err := HopFromReply(&bad); err == nil || !strings.Contains(err.Error(), "want RTM_GET") {
		t.Fatalf("error %v, want a type error", err)
	}
}

func TestFromRouteMessages(t *testing.T) {
	cases := []struct {
		typ   uint8
		r     routing.Route
		idx   int
		flags uint32
		addrs [axMax]*Sockaddr
	}{
		{TypeAdd, routing.Route{Dst: netip.MustParsePrefix("10.1.0.0/16"), Gateway: netip.MustParseAddr("192.168.1.1"), Protocol: Proto}, 0,
			FlagUp | FlagGateway | FlagStatic | FlagProto1,
			[axMax]*Sockaddr{AxDst: inet("10.1.0.0"), AxGateway: inet("192.168.1.1"), AxNetmask: inet("255.255.0.0")}},
		// 2001:db8::/32 to utun5 (index 17): the gateway is an AF_LINK
		// address naming the interface by index.
		{TypeDelete, routing.Route{Dst: netip.MustParsePrefix("2001:db8::/32"), IfIndex: 17}, 17,
			FlagUp | FlagStatic,
			[axMax]*Sockaddr{AxDst: inet("2001:db8::"), AxGateway: link(17, ""), AxNetmask: inet("ffff:ffff::")}},
		{TypeAdd, routing.Route{Dst: netip.MustParsePrefix("203.0.113.7/32"), IfIndex: 5, Type: routing.TypeBlackhole}, 5,
			FlagUp | FlagStatic | FlagHost | FlagBlackhole,
			[axMax]*Sockaddr{AxDst: inet("203.0.113.7"), AxGateway: link(5, "")}},
		{TypeAdd, routing.Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1"), Table: ScopedTable + 7}, 0,
			FlagUp | FlagStatic | FlagGateway | FlagIfScope,
			[axMax]*Sockaddr{AxDst: inet("0.0.0.0"), AxGateway: inet("10.0.0.1"), AxNetmask: inet("0.0.0.0")}},
	}
	for _, c := range cases {
		m, err := FromRoute(c.typ, c.r, c.idx, 9)
		if err != nil {
			t.Fatalf("%v: %v", c.r, err)
		}
		if m.Type != c.typ || m.Seq != 9 || m.Flags != c.flags {
			t.Errorf("%v: type %d seq %d flags %#x, want %d 9 %#x", c.r, m.Type, m.Seq, m.Flags, c.typ, c.flags)
		}
		if !reflect.DeepEqual(m.Addrs, c.addrs) {
			t.Errorf("%v: addresses\n got %v\nwant %v", c.r, m.Addrs, c.addrs)
		}
		// What FromRoute writes reads back as the same route.
		if c.typ == TypeAdd {
			got, ok := m.ToRoute(nil)
			if !ok || got.Dst != c.r.Dst || got.Gateway != c.r.Gateway || got.Protocol != c.r.Protocol || got.Table != c.r.Table {
				t.Errorf("round trip %v -> %v (%v)", c.r, got, ok)
			}
		}
	}
	if m := GetRequest(netip.MustParseAddr("8.8.8.8"), 11); m.Type != TypeGet || m.Flags != FlagUp|FlagHost ||
		!reflect.DeepEqual(m.Addrs, [axMax]*Sockaddr{AxDst: inet("8.8.8.8"), AxIFP: {Family: AFLink}}) {
		t.Errorf("GetRequest: %+v", m)
	}
}

func TestFromRouteErrors(t *testing.T) {
	_, err := FromRoute(TypeAdd, routing.Route{Dst: netip.MustParsePrefix("10.0.0.0/8")}, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "neither gateway nor interface") {
		t.Errorf("no gateway: %v", err)
	}
	_, err = FromRoute(TypeAdd, routing.Route{Dst: netip.MustParsePrefix("10.0.0.0/8"), Hops: []routing.NextHop{{IfIndex: 1}, {IfIndex: 2}}}, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "multipath") {
		t.Errorf("multipath: %v", err)
	}
	_, err = FromRoute(TypeAdd, routing.Route{Dst: netip.MustParsePrefix("10.0.0.0/8"), Gateway: netip.MustParseAddr("::1")}, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "other family") {
		t.Errorf("family: %v", err)
	}
}

// The two encodings kept out of x/net/route (see doc.go) give the bytes
// route(8) writes.
func TestLinkSockaddrAndKAME(t *testing.T) {
	want := []byte{20, AFLink, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if got := linkSockaddr(17, ""); !bytes.Equal(got, want) {
		t.Errorf("linkSockaddr(17) = %x, want %x", got, want)
	}
	named := linkSockaddr(6, "en0")
	if len(named) != 20 || named[5] != 3 || string(named[8:11]) != "en0" {
		t.Errorf("linkSockaddr(6, en0) = %x", named)
	}
	if linkSockaddr(1, strings.Repeat("x", 250)) != nil {
		t.Error("a name longer than a sockaddr can hold was encoded")
	}
	kame := toKAME(netip.MustParseAddr("fe80::1%6"))
	if want := netip.MustParseAddr("fe80:6::1").As16(); kame != want {
		t.Errorf("toKAME(fe80::1%%6) = %x, want %x", kame, want)
	}
	if g := toKAME(netip.MustParseAddr("2001:db8::1")); g != netip.MustParseAddr("2001:db8::1").As16() {
		t.Errorf("global address changed: %x", g)
	}
}

// Mask is the inverse of netmask.Bits for every prefix length.
func TestMaskRoundTrip(t *testing.T) {
	if m := Mask(57, true); m.String() != "ffff:ffff:ffff:ff80::" {
		t.Errorf("Mask(57, IPv6) = %s", m)
	}
	if m := Mask(24, false); m.String() != "255.255.255.0" {
		t.Errorf("Mask(24, IPv4) = %s", m)
	}
	for _, is6 := range []bool{false, true} {
		max := 32
		if is6 {
			max = 128
		}
		for bits := 0; bits <= max; bits++ {
			if b, ok := netmask.Bits(Mask(bits, is6)); !ok || b != bits {
				t.Errorf("netmask.Bits(Mask(%d, %v)) = %d,%v", bits, is6, b, ok)
			}
		}
	}
}
