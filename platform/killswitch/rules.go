package killswitch

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Mode is what the block covers.
type Mode string

const (
	// ModeFull: nothing leaves except through the tunnel and the few
	// exceptions a VPN client needs (redirect-gateway profiles).
	ModeFull Mode = "full"
	// ModeSplit: the VPN's prefixes never leave outside the tunnel; other
	// traffic is untouched (split-tunnel profiles).
	ModeSplit Mode = "split"
)

// DefaultMark is the socket mark (Linux SO_MARK) cvpn puts on its own
// sockets (server transport and its DNS lookups of the server's name) so
// that a full block lets exactly those through. "cvpn" in ASCII.
const DefaultMark uint32 = 0x6376706e

// Server is one VPN server endpoint the client may reach while blocked.
type Server struct {
	Addr  netip.Addr `json:"addr"`
	Port  uint16     `json:"port"`
	Proto string     `json:"proto"` // "udp" or "tcp"
}

// PortProto is a remote's port and protocol, reachable by cvpn's own
// (marked) sockets before the server's name is resolved.
type PortProto struct {
	Port  uint16 `json:"port"`
	Proto string `json:"proto"` // "udp" or "tcp"
}

// Rules are what a block lets out. They are recorded as they are in the
// state file, so they hold only plain values.
type Rules struct {
	Mode Mode `json:"mode"`
	// Tunnel is the tunnel interface; empty before it exists (then nothing
	// goes through a tunnel yet).
	Tunnel string `json:"tunnel,omitempty"`
	// Servers are the VPN server endpoints (any process may reach them: the
	// OS cannot tell cvpn's sockets everywhere).
	Servers []Server `json:"servers,omitempty"`
	// Remotes are the profile's remote ports, reachable by cvpn's marked
	// sockets whatever the address (a remote name resolves again on
	// reconnect, remote-random-hostname gives a new name each time).
	Remotes []PortProto `json:"remotes,omitempty"`
	// NetGateway are the profile's net_gateway exceptions (full mode) or
	// the exceptions inside the VPN's prefixes (split mode).
	NetGateway []netip.Prefix `json:"net_gateway,omitempty"`
	// VPN are the VPN's prefixes (split mode).
	VPN []netip.Prefix `json:"vpn,omitempty"`
	// Mark is the socket mark of cvpn's own sockets; 0 means DefaultMark.
	Mark uint32 `json:"mark,omitempty"`
}

// Validate names the first wrong field.
func (r Rules) Validate() error {
	switch r.Mode {
	case ModeFull, ModeSplit:
	default:
		return fmt.Errorf("killswitch: mode %q: want %q or %q", r.Mode, ModeFull, ModeSplit)
	}
	if len(r.Tunnel) > 15 {
		return fmt.Errorf("killswitch: tunnel interface name %q is longer than 15 bytes", r.Tunnel)
	}
	for _, s := range r.Servers {
		if !s.Addr.IsValid() || s.Port == 0 || protoNumber(s.Proto) == 0 {
			return fmt.Errorf("killswitch: server %v port %d proto %q: want an address, a port and udp or tcp", s.Addr, s.Port, s.Proto)
		}
	}
	for _, p := range r.Remotes {
		if p.Port == 0 || protoNumber(p.Proto) == 0 {
			return fmt.Errorf("killswitch: remote port %d proto %q: want a port and udp or tcp", p.Port, p.Proto)
		}
	}
	for _, p := range append(slices.Clone(r.NetGateway), r.VPN...) {
		if !p.IsValid() {
			return errors.New("killswitch: invalid prefix")
		}
	}
	if r.Mode == ModeSplit && len(r.VPN) == 0 {
		return errors.New("killswitch: a split-tunnel block needs the VPN's prefixes")
	}
	return nil
}

// Verdict is what a rule does with a matching packet.
type Verdict uint8

const (
	Accept Verdict = iota
	Drop
)

func (v Verdict) String() string {
	if v == Drop {
		return "drop"
	}
	return "accept"
}

// Protocol numbers used in plans.
const (
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// ICMPv6 types a host needs on its LAN (neighbour discovery, MLD).
var ndpTypes = []uint8{133, 135, 136, 143}

// Rule is one OS-neutral outbound rule: every set field must match.
type Rule struct {
	Comment string
	// OutIface is the outgoing interface ("lo" means loopback).
	OutIface string
	// InIface is the incoming interface (forwarded packets only).
	InIface string
	// Family is 4 or 6; 0 matches both.
	Family int
	// Dst is the destination prefix; the zero prefix matches any.
	Dst netip.Prefix
	// Src is the source prefix (forwarded answers); the zero prefix
	// matches any.
	Src netip.Prefix
	// Proto is the IP protocol; 0 matches any.
	Proto            uint8
	SrcPort, DstPort uint16
	// ICMPType is the ICMPv6 type (Proto ProtoICMPv6).
	ICMPType uint8
	HasICMP  bool
	// Mark matches only cvpn's own sockets.
	Mark    uint32
	Verdict Verdict
}

// Plan is an ordered rule list for outbound packets: the first matching
// rule decides; packets no rule matches get Policy.
type Plan struct {
	Policy Verdict
	Rules  []Rule
}

// Loopback is the name plans use for the loopback interface; backends
// translate it (lo on Linux, lo0 on macOS).
const Loopback = "lo"

func protoNumber(p string) uint8 {
	switch p {
	case "udp":
		return ProtoUDP
	case "tcp":
		return ProtoTCP
	}
	return 0
}

func hostPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 4
	}
	return 6
}

// Plan turns the rules into the ordered rule list every backend installs.
func (r Rules) Plan() Plan {
	mark := r.Mark
	if mark == 0 {
		mark = DefaultMark
	}
	var p Plan
	add := func(x Rule) { p.Rules = append(p.Rules, x) }
	add(Rule{Comment: "loopback", OutIface: Loopback, Verdict: Accept})
	if r.Tunnel != "" {
		add(Rule{Comment: "the tunnel", OutIface: r.Tunnel, Verdict: Accept})
	}
	for _, s := range r.Servers {
		d := hostPrefix(s.Addr)
		add(Rule{Comment: "VPN server", Family: family(d), Dst: d, Proto: protoNumber(s.Proto), DstPort: s.Port, Verdict: Accept})
	}
	for _, n := range r.NetGateway {
		n = n.Masked()
		add(Rule{Comment: "net_gateway exception", Family: family(n), Dst: n, Verdict: Accept})
	}
	if r.Mode == ModeSplit {
		p.Policy = Accept
		for _, v := range r.VPN {
			v = v.Masked()
			add(Rule{Comment: "VPN prefix outside the tunnel", Family: family(v), Dst: v, Verdict: Drop})
		}
		return p
	}
	p.Policy = Drop
	for _, rp := range r.Remotes {
		add(Rule{Comment: "cvpn to a VPN server", Mark: mark, Proto: protoNumber(rp.Proto), DstPort: rp.Port, Verdict: Accept})
	}
	add(Rule{Comment: "cvpn's DNS lookups of the server", Mark: mark, Proto: ProtoUDP, DstPort: 53, Verdict: Accept})
	add(Rule{Comment: "cvpn's DNS lookups of the server", Mark: mark, Proto: ProtoTCP, DstPort: 53, Verdict: Accept})
	add(Rule{Comment: "DHCPv4", Family: 4, Proto: ProtoUDP, SrcPort: 68, DstPort: 67, Verdict: Accept})
	add(Rule{Comment: "DHCPv6", Family: 6, Proto: ProtoUDP, SrcPort: 546, DstPort: 547, Verdict: Accept})
	for _, t := range ndpTypes {
		add(Rule{Comment: "neighbour discovery", Family: 6, Proto: ProtoICMPv6, ICMPType: t, HasICMP: true, Verdict: Accept})
	}
	return p
}

// ForwardPlan is the rule list for packets the machine routes for others
// (containers, virtual machines, a shared connection): the same block,
// without what only the machine's own sockets need (loopback, cvpn's
// marked sockets, DHCP and neighbour discovery of its own addresses).
// Packets that come from the tunnel pass too, so that answers through the
// tunnel reach the guests while it is up, and so do answers from the
// server and the net_gateway exceptions (matched by source: no connection
// tracking, so a flow opened before the block does not survive it).
func (r Rules) ForwardPlan() Plan {
	var p Plan
	add := func(x Rule) { p.Rules = append(p.Rules, x) }
	if r.Tunnel != "" {
		add(Rule{Comment: "forwarded into the tunnel", OutIface: r.Tunnel, Verdict: Accept})
		add(Rule{Comment: "forwarded from the tunnel", InIface: r.Tunnel, Verdict: Accept})
	}
	for _, s := range r.Servers {
		d := hostPrefix(s.Addr)
		add(Rule{Comment: "forwarded to the VPN server", Family: family(d), Dst: d, Proto: protoNumber(s.Proto), DstPort: s.Port, Verdict: Accept})
		add(Rule{Comment: "forwarded from the VPN server", Family: family(d), Src: d, Proto: protoNumber(s.Proto), SrcPort: s.Port, Verdict: Accept})
	}
	for _, n := range r.NetGateway {
		n = n.Masked()
		add(Rule{Comment: "forwarded to a net_gateway exception", Family: family(n), Dst: n, Verdict: Accept})
		add(Rule{Comment: "forwarded from a net_gateway exception", Family: family(n), Src: n, Verdict: Accept})
	}
	if r.Mode == ModeSplit {
		p.Policy = Accept
		for _, v := range r.VPN {
			v = v.Masked()
			add(Rule{Comment: "forwarded VPN prefix outside the tunnel", Family: family(v), Dst: v, Verdict: Drop})
		}
		return p
	}
	p.Policy = Drop
	return p
}

// Equal reports whether two rule sets are the same.
func (r Rules) Equal(o Rules) bool {
	return r.Mode == o.Mode && r.Tunnel == o.Tunnel && r.Mark == o.Mark &&
		slices.Equal(r.Servers, o.Servers) && slices.Equal(r.Remotes, o.Remotes) &&
		slices.Equal(r.NetGateway, o.NetGateway) && slices.Equal(r.VPN, o.VPN)
}
