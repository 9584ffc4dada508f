package routing

import (
	"fmt"
	"slices"
	"strings"
)

// Route types, with the values of Linux rtm_type. Platforms without route
// types leave Type at TypeUnspec, which counts as an ordinary (unicast)
// route; they set TypeLocal or TypeBroadcast for the host's own address and
// broadcast entries so that enforcement leaves those alone.
const (
	TypeUnspec      uint8 = 0
	TypeUnicast     uint8 = 1
	TypeLocal       uint8 = 2
	TypeBroadcast   uint8 = 3
	TypeAnycast     uint8 = 4
	TypeMulticast   uint8 = 5
	TypeBlackhole   uint8 = 6
	TypeUnreachable uint8 = 7
	TypeProhibit    uint8 = 8
	TypeThrow       uint8 = 9
)

// forwards reports whether a route of type t decides where traffic to its
// destination goes (delivers it, or drops or rejects it), so that a more
// specific one can steal tunnel traffic. Local, broadcast, anycast and
// multicast entries describe the host's own addresses and never conflict.
func forwards(t uint8) bool {
	switch t {
	case TypeLocal, TypeBroadcast, TypeAnycast, TypeMulticast:
		return false
	}
	return true
}

// InMainTable reports whether the route belongs to the OS main table: Table
// 0 (the only table on non-Linux systems) or MainTable.
func (r Route) InMainTable() bool { return r.Table == 0 || r.Table == MainTable }

// Equal reports whether r and o are identical in every attribute.
func (r Route) Equal(o Route) bool {
	return r.Dst == o.Dst && r.Gateway == o.Gateway && r.Interface == o.Interface &&
		r.IfIndex == o.IfIndex && r.Metric == o.Metric && r.Table == o.Table &&
		r.Protocol == o.Protocol && r.Scope == o.Scope && r.Type == o.Type &&
		r.Src == o.Src && r.Flags == o.Flags && r.MTU == o.MTU &&
		slices.Equal(r.Hops, o.Hops)
}

// Clone returns a copy of r that shares no memory with it.
func (r Route) Clone() Route {
	r.Hops = slices.Clone(r.Hops)
	return r
}

// String formats the route like `ip route`: destination, gateway, device,
// metric, table and the other attributes that are set.
func (r Route) String() string {
	var b strings.Builder
	b.WriteString(r.Dst.String())
	if r.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Gateway)
	}
	writeDev(&b, r.Interface, r.IfIndex)
	if r.Src.IsValid() {
		fmt.Fprintf(&b, " src %s", r.Src)
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.Table != 0 {
		fmt.Fprintf(&b, " table %d", r.Table)
	}
	if r.Type != TypeUnspec && r.Type != TypeUnicast {
		fmt.Fprintf(&b, " type %d", r.Type)
	}
	if r.Protocol != 0 {
		fmt.Fprintf(&b, " proto %d", r.Protocol)
	}
	if r.Scope != 0 {
		fmt.Fprintf(&b, " scope %d", r.Scope)
	}
	if r.MTU != 0 {
		fmt.Fprintf(&b, " mtu %d", r.MTU)
	}
	if r.Flags != 0 {
		fmt.Fprintf(&b, " flags %#x", r.Flags)
	}
	for _, h := range r.Hops {
		b.WriteString(" nexthop")
		if h.Gateway.IsValid() {
			fmt.Fprintf(&b, " via %s", h.Gateway)
		}
		writeDev(&b, h.Interface, h.IfIndex)
		if h.Weight != 0 {
			fmt.Fprintf(&b, " weight %d", h.Weight)
		}
	}
	return b.String()
}

func writeDev(b *strings.Builder, name string, index int) {
	switch {
	case name != "":
		fmt.Fprintf(b, " dev %s", name)
	case index != 0:
		fmt.Fprintf(b, " dev #%d", index)
	}
}

// Tunnel identifies the VPN's interface. A route goes through the tunnel
// when its interface matches by name or by index (a zero field is not
// compared); a multipath route only when every hop does.
type Tunnel struct {
	Name  string
	Index int
}

// IsZero reports whether the tunnel is unidentified.
func (t Tunnel) IsZero() bool { return t.Name == "" && t.Index == 0 }

func (t Tunnel) matches(name string, index int) bool {
	if t.IsZero() {
		return false
	}
	if t.Name != "" && name != "" {
		return t.Name == name
	}
	if t.Index != 0 && index != 0 {
		return t.Index == index
	}
	return false
}

// Carries reports whether route r sends its traffic into the tunnel.
func (t Tunnel) Carries(r Route) bool { return t.carries(&r) }

func (t Tunnel) carries(r *Route) bool {
	if len(r.Hops) == 0 {
		return t.matches(r.Interface, r.IfIndex)
	}
	for _, h := range r.Hops {
		if !t.matches(h.Interface, h.IfIndex) {
			return false
		}
	}
	return true
}
