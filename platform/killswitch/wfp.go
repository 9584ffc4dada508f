package killswitch

import (
	"fmt"
	"net/netip"
	"strings"
)

// WFPLayer is a Windows Filtering Platform layer the Windows backend
// installs filters at.
type WFPLayer string

const (
	// WFPConnectV4 and WFPConnectV6 (FWPM_LAYER_ALE_AUTH_CONNECT_V4/V6)
	// decide the machine's outbound connections (TCP connects, the first
	// UDP datagram to a remote).
	WFPConnectV4 WFPLayer = "ALE_AUTH_CONNECT_V4"
	WFPConnectV6 WFPLayer = "ALE_AUTH_CONNECT_V6"
	// WFPRecvAcceptV4 and WFPRecvAcceptV6
	// (FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4/V6) decide inbound connections
	// (accepted TCP, the first UDP datagram from a remote): their answers
	// never pass the connect layer, so the same plan holds here.
	WFPRecvAcceptV4 WFPLayer = "ALE_AUTH_RECV_ACCEPT_V4"
	WFPRecvAcceptV6 WFPLayer = "ALE_AUTH_RECV_ACCEPT_V6"
	// WFPForwardV4 and WFPForwardV6 (FWPM_LAYER_IPFORWARD_V4/V6) see the
	// packets the machine routes for others (Internet Connection Sharing,
	// Hyper-V and WSL NAT). The layer has addresses and interfaces but no
	// protocol or port fields.
	WFPForwardV4 WFPLayer = "IPFORWARD_V4"
	WFPForwardV6 WFPLayer = "IPFORWARD_V6"
)

// WFPField is the field a filter condition tests.
type WFPField string

const (
	// WFPRemoteAddress: the remote address is in Prefix (ALE layers).
	WFPRemoteAddress WFPField = "IP_REMOTE_ADDRESS"
	// WFPRemotePort and WFPLocalPort: Value is the port (ALE layers).
	WFPRemotePort WFPField = "IP_REMOTE_PORT"
	WFPLocalPort  WFPField = "IP_LOCAL_PORT"
	// WFPProtocol: Value is the IP protocol number (ALE layers).
	WFPProtocol WFPField = "IP_PROTOCOL"
	// WFPICMPType: Value is the ICMP type (FWPM_CONDITION_ICMP_TYPE, the
	// local port field of ICMP at ALE layers).
	WFPICMPType WFPField = "ICMP_TYPE"
	// WFPLocalInterface: the interface named Iface carries the
	// connection (its LUID on Windows). With Not, any other interface.
	WFPLocalInterface WFPField = "IP_LOCAL_INTERFACE"
	// WFPLoopback: the connection is a loopback one
	// (FWP_CONDITION_FLAG_IS_LOOPBACK). With Not, it is not.
	WFPLoopback WFPField = "FLAGS(IS_LOOPBACK)"
	// WFPAppSelf: the connection's application is cvpn's own executable
	// (FWPM_CONDITION_ALE_APP_ID); it stands for the socket mark of the
	// other backends. With Not, any other application.
	WFPAppSelf WFPField = "ALE_APP_ID(cvpn)"
	// WFPSourceAddress and WFPDestinationAddress: the forwarded packet's
	// source or destination is in Prefix (IPFORWARD layers).
	WFPSourceAddress      WFPField = "IP_SOURCE_ADDRESS"
	WFPDestinationAddress WFPField = "IP_DESTINATION_ADDRESS"
	// WFPArrivalInterface and WFPForwardInterface: the forwarded packet
	// came in on, or leaves through, the interface named Iface
	// (SOURCE_INTERFACE_INDEX, DESTINATION_INTERFACE_INDEX).
	WFPArrivalInterface WFPField = "SOURCE_INTERFACE_INDEX"
	WFPForwardInterface WFPField = "DESTINATION_INTERFACE_INDEX"
)

// WFPCondition is one condition of a filter. WFP ANDs the conditions of
// different fields (a filter never tests one field twice here).
type WFPCondition struct {
	Field  WFPField
	Prefix netip.Prefix // address fields
	Value  uint16       // ports, protocol, ICMP type
	Iface  string       // interface fields
	// Not inverts the test (not equal, flag not set).
	Not bool
}

func (c WFPCondition) String() string {
	op := "=="
	if c.Not {
		op = "!="
	}
	switch c.Field {
	case WFPRemoteAddress, WFPSourceAddress, WFPDestinationAddress:
		return fmt.Sprintf("%s %s %s", c.Field, op, c.Prefix)
	case WFPLocalInterface, WFPArrivalInterface, WFPForwardInterface:
		return fmt.Sprintf("%s %s %s", c.Field, op, c.Iface)
	case WFPLoopback, WFPAppSelf:
		if c.Not {
			return "!" + string(c.Field)
		}
		return string(c.Field)
	}
	return fmt.Sprintf("%s %s %d", c.Field, op, c.Value)
}

// WFPFilter is one filter of the Windows backend: in its sublayer, WFP
// evaluates a layer's filters by weight, highest first, and the first
// whose conditions all match decides (Permit or block).
type WFPFilter struct {
	Name       string
	Layer      WFPLayer
	Weight     uint64
	Conditions []WFPCondition
	Permit     bool
}

func (f WFPFilter) String() string {
	v := "block"
	if f.Permit {
		v = "permit"
	}
	cs := make([]string, len(f.Conditions))
	for i, c := range f.Conditions {
		cs[i] = c.String()
	}
	return fmt.Sprintf("%s w%d %s [%s] (%s)", f.Layer, f.Weight, v, strings.Join(cs, " && "), f.Name)
}

// WFPFilters translates r's Plan and ForwardPlan into the filters the
// Windows backend installs in its sublayer: each plan rule becomes a
// filter at the connect and receive/accept layers of its family, in plan
// order with descending weights, and the plan's Policy a catch-all filter
// of the lowest weight. The mark of cvpn's own sockets becomes cvpn's
// application ID; loopback the loopback flag. At the forward layers,
// which have no protocol or port fields, a rule's protocol and ports are
// left out: the VPN server's rule lets the server's address through
// whatever the port.
func WFPFilters(r Rules) ([]WFPFilter, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var out []WFPFilter
	out = append(out, planFilters(r.Plan(), []WFPLayer{WFPConnectV4, WFPRecvAcceptV4}, []WFPLayer{WFPConnectV6, WFPRecvAcceptV6}, aleConditions)...)
	out = append(out, planFilters(r.ForwardPlan(), []WFPLayer{WFPForwardV4}, []WFPLayer{WFPForwardV6}, forwardConditions)...)
	return out, nil
}

// planFilters turns p into filters at the v4 and v6 layers.
func planFilters(p Plan, v4, v6 []WFPLayer, conds func(Rule) []WFPCondition) []WFPFilter {
	var out []WFPFilter
	for _, fam := range []int{4, 6} {
		layers := v4
		if fam == 6 {
			layers = v6
		}
		for _, l := range layers {
			w := uint64(len(p.Rules)) + 1
			for _, x := range p.Rules {
				w--
				if x.Family != 0 && x.Family != fam {
					continue
				}
				out = append(out, WFPFilter{Name: x.Comment, Layer: l, Weight: w, Conditions: conds(x), Permit: x.Verdict == Accept})
			}
			out = append(out, WFPFilter{Name: "policy: " + p.Policy.String() + " everything else", Layer: l, Weight: 0, Permit: p.Policy == Accept})
		}
	}
	return out
}

// aleConditions are a plan rule's conditions at the ALE layers. The ALE
// fields are local/remote, not source/destination: a rule's destination
// port is the remote port and its source port the local one at both the
// connect and the receive/accept layer.
func aleConditions(x Rule) []WFPCondition {
	var cs []WFPCondition
	switch x.OutIface {
	case "":
	case Loopback:
		cs = append(cs, WFPCondition{Field: WFPLoopback})
	default:
		cs = append(cs, WFPCondition{Field: WFPLocalInterface, Iface: x.OutIface})
	}
	if x.InIface != "" {
		cs = append(cs, WFPCondition{Field: WFPLocalInterface, Iface: x.InIface})
	}
	if x.Mark != 0 {
		cs = append(cs, WFPCondition{Field: WFPAppSelf})
	}
	if x.Dst.IsValid() {
		cs = append(cs, WFPCondition{Field: WFPRemoteAddress, Prefix: x.Dst})
	}
	if x.Src.IsValid() {
		cs = append(cs, WFPCondition{Field: WFPRemoteAddress, Prefix: x.Src})
	}
	if x.Proto != 0 {
		cs = append(cs, WFPCondition{Field: WFPProtocol, Value: uint16(x.Proto)})
	}
	if x.HasICMP {
		cs = append(cs, WFPCondition{Field: WFPICMPType, Value: uint16(x.ICMPType)})
	}
	if x.SrcPort != 0 {
		cs = append(cs, WFPCondition{Field: WFPLocalPort, Value: x.SrcPort})
	}
	if x.DstPort != 0 {
		cs = append(cs, WFPCondition{Field: WFPRemotePort, Value: x.DstPort})
	}
	return cs
}

// forwardConditions are a forward-plan rule's conditions at the IPFORWARD
// layers: interfaces and addresses only.
func forwardConditions(x Rule) []WFPCondition {
	var cs []WFPCondition
	if x.OutIface != "" {
		cs = append(cs, WFPCondition{Field: WFPForwardInterface, Iface: x.OutIface})
	}
	if x.InIface != "" {
		cs = append(cs, WFPCondition{Field: WFPArrivalInterface, Iface: x.InIface})
	}
	if x.Dst.IsValid() {
		cs = append(cs, WFPCondition{Field: WFPDestinationAddress, Prefix: x.Dst})
	}
	if x.Src.IsValid() {
		cs = append(cs, WFPCondition{Field: WFPSourceAddress, Prefix: x.Src})
	}
	return cs
}

// WFPDNSFilters are the filters of block-outside-dns while tunnel is up:
// DNS (UDP and TCP port 53) is blocked at the connect layers unless it
// goes through the tunnel, over loopback, or comes from cvpn itself (its
// lookups of the server's name). They only block, in a sublayer of their
// own: WFP lets a block in any sublayer win over a permit in another, so
// they hold beside a kill-switch block without widening or narrowing it.
func WFPDNSFilters(tunnel string) ([]WFPFilter, error) {
	if tunnel == "" || len(tunnel) > 255 {
		return nil, fmt.Errorf("killswitch: block-outside-dns: tunnel interface name %q: want a name", tunnel)
	}
	var out []WFPFilter
	for _, l := range []WFPLayer{WFPConnectV4, WFPConnectV6} {
		for _, proto := range []uint16{ProtoUDP, ProtoTCP} {
			out = append(out, WFPFilter{
				Name:  "block-outside-dns",
				Layer: l,
				Conditions: []WFPCondition{
					{Field: WFPProtocol, Value: proto},
					{Field: WFPRemotePort, Value: 53},
					{Field: WFPLocalInterface, Iface: tunnel, Not: true},
					{Field: WFPLoopback, Not: true},
					{Field: WFPAppSelf, Not: true},
				},
			})
		}
	}
	return out, nil
}
