package routesock

import (
	"net/netip"

	"github.com/cvpn/cvpn/routing"
)

func inet(s string) *Sockaddr {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		return &Sockaddr{Family: AFInet, Addr: a}
	}
	return &Sockaddr{Family: AFInet6, Addr: a}
}

func link(index uint16, name string) *Sockaddr {
	return &Sockaddr{Family: AFLink, Index: index, Name: name}
}

func msg(typ uint8, index uint16, flags uint32, dst, gw, mask *Sockaddr) Message {
	m := Message{Type: typ, Index: index, Flags: flags}
	m.Addrs[AxDst], m.Addrs[AxGateway], m.Addrs[AxNetmask] = dst, gw, mask
	return m
}

// dumpMessages is what the recorded-style NET_RT_DUMP buffer of
// wire_darwin_test.go (dumpBytes) decodes to: five route messages, the
// interface message skipped. The test on macOS checks that Parse gives
// exactly these; the test on every OS converts them to routes.
func dumpMessages() []Message {
	return []Message{
		// 1. default via 192.168.1.1 on en0 (index 6), flags UGScg; the /0
		//    netmask was a zero-length sockaddr.
		msg(TypeGet, 6, FlagUp|FlagGateway|FlagStatic|FlagPRCloning|FlagGlobal,
			inet("0.0.0.0"), inet("192.168.1.1"), inet("0.0.0.0")),
		// 2. 192.168.1.0/24 link#6 (UCS); the netmask was shortened to 7 bytes.
		msg(TypeGet, 6, FlagUp|FlagCloning|FlagStatic,
			inet("192.168.1.0"), link(6, ""), inet("255.255.255.0")),
		// 3. ARP entry 192.168.1.1 (UHLWIir): a cache entry.
		msg(TypeGet, 6, FlagUp|FlagHost|FlagLLInfo|FlagWasCloned,
			inet("192.168.1.1"), link(6, ""), nil),
		// 4. scoped default via 10.0.0.1 on en1 (index 7), flags UGSI.
		msg(TypeGet, 7, FlagUp|FlagGateway|FlagStatic|FlagIfScope,
			inet("0.0.0.0"), inet("10.0.0.1"), inet("0.0.0.0")),
		// 5. fe80::%6/64 link#6: KAME form fe80:6:: on the wire.
		msg(TypeGet, 6, FlagUp|FlagCloning,
			inet("fe80::%6"), link(6, ""), inet("ffff:ffff:ffff:ffff::")),
	}
}

// dumpRoutes is what the route table seen by cvpn holds for dumpMessages:
// the ARP entry left out, the scoped default in its own table.
var dumpRoutes = []routing.Route{
	{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("192.168.1.1"), Interface: "en0", IfIndex: 6,
		Type: routing.TypeUnicast, Flags: FlagUp | FlagGateway | FlagStatic | FlagPRCloning},
	{Dst: netip.MustParsePrefix("192.168.1.0/24"), Interface: "en0", IfIndex: 6,
		Type: routing.TypeUnicast, Flags: FlagUp | FlagCloning | FlagStatic},
	{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.0.0.1"), Interface: "en1", IfIndex: 7,
		Table: ScopedTable + 7, Type: routing.TypeUnicast, Flags: FlagUp | FlagGateway | FlagStatic | FlagIfScope},
	{Dst: netip.MustParsePrefix("fe80::/64"), Interface: "en0", IfIndex: 6,
		Type: routing.TypeUnicast, Flags: FlagUp | FlagCloning},
}

// getReply is the reply to RTM_GET 1.1.1.1 by pid 4242, seq 3 (bytes in
// wire_darwin_test.go): via 192.168.1.1 on en0, RTA_IFP en0 and RTA_IFA
// 192.168.1.20.
func getReply() Message {
	m := msg(TypeGet, 6, FlagUp|FlagGateway|FlagStatic|FlagDone, inet("0.0.0.0"), inet("192.168.1.1"), inet("0.0.0.0"))
	m.PID, m.Seq = 4242, 3
	m.Addrs[AxIFP] = link(6, "en0")
	m.Addrs[AxIFA] = inet("192.168.1.20")
	return m
}

var getReplyHop = Hop{Gateway: netip.MustParseAddr("192.168.1.1"), IfIndex: 6, IfName: "en0", Src: netip.MustParseAddr("192.168.1.20")}
