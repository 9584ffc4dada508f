package routing

import (
	"net/netip"
)

// MainTable is the identifier of the OS main routing table on Linux. Other
// systems have a single table and use 0.
const MainTable = 254

// ProtoCVPN is the Protocol cvpn puts on the routes it adds (0x9c, the
// Linux rtm_protocol value unassigned in /etc/iproute2/rt_protos; macOS
// carries it as RTF_PROTO1). Route watchers report such routes too; the
// Enforcer ignores their appearance, so cvpn's own changes never trigger
// enforcement.
const ProtoCVPN = 0x9c

// Route is one entry of an OS routing table, with every attribute needed to
// put it back exactly as it was after it has been removed. Fields an OS does
// not have stay zero.
type Route struct {
	// Dst is the destination network. 0.0.0.0/0 and ::/0 are default routes.
	Dst netip.Prefix `json:"dst"`
	// Gateway is the next hop; the zero Addr means a directly connected route.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// Interface is the outgoing interface name, IfIndex its index when known.
	Interface string `json:"interface,omitempty"`
	IfIndex   int    `json:"ifindex,omitempty"`
	// Metric is the route priority (lower wins).
	Metric uint32 `json:"metric,omitempty"`
	// Table is the routing table (Linux); 0 means the OS default table.
	Table uint32 `json:"table,omitempty"`
	// Protocol, Scope and Type are the Linux rtm_protocol, rtm_scope and rtm_type values.
	Protocol uint8 `json:"protocol,omitempty"`
	Scope    uint8 `json:"scope,omitempty"`
	Type     uint8 `json:"type,omitempty"`
	// Src is the preferred source address.
	Src netip.Addr `json:"src,omitzero"`
	// Flags are OS route flags (RTNH_F_* on Linux, RTF_* on macOS).
	Flags uint32 `json:"flags,omitempty"`
	// MTU is a per-route MTU, 0 when unset.
	MTU uint32 `json:"mtu,omitempty"`
	// Hops lists the next hops of a multipath route; empty for single-path routes.
	Hops []NextHop `json:"hops,omitempty"`
}

// NextHop is one path of a multipath route.
type NextHop struct {
	Gateway   netip.Addr `json:"gateway,omitzero"`
	Interface string     `json:"interface,omitempty"`
	IfIndex   int        `json:"ifindex,omitempty"`
	Weight    int        `json:"weight,omitempty"`
	Flags     uint32     `json:"flags,omitempty"`
}

// Is6 reports whether the route is an IPv6 route.
func (r Route) Is6() bool { return r.Dst.Addr().Is6() && !r.Dst.Addr().Is4In6() }
