package netmon

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// state is the network as the OS reports it, every interface included;
// view applies the ignore list.
type state struct {
	// defaults are the default routes of the main table, both families.
	defaults []defaultRoute
	// addrs are local unicast addresses (no loopback, no link-local).
	addrs []ifAddr
	// links maps interface names (no loopback) to up (up and running).
	links map[string]bool
}

type defaultRoute struct {
	ifname  string
	gateway netip.Addr
	metric  uint32
	v6      bool
}

func (r defaultRoute) String() string {
	s := ""
	if r.gateway.IsValid() {
		s = "via " + r.gateway.String() + " "
	}
	return s + "dev " + r.ifname
}

type ifAddr struct {
	ifname string
	addr   netip.Addr
}

// usableAddr reports whether a is a local unicast address that counts.
func usableAddr(a netip.Addr) bool {
	return a.IsValid() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsMulticast() && !a.IsUnspecified()
}

// view is a state seen through the ignore list.
type view struct {
	def   [2]string // IPv4, IPv6: the preferred default route, "" for none
	addrs map[ifAddr]bool
	links map[string]bool
}

func (m *Monitor) view(st state) view {
	v := view{addrs: map[ifAddr]bool{}, links: map[string]bool{}}
	var best [2]*defaultRoute
	for i := range st.defaults {
		r := &st.defaults[i]
		if r.ifname == "" || m.ignored(r.ifname) {
			continue
		}
		f := 0
		if r.v6 {
			f = 1
		}
		if best[f] == nil || r.metric < best[f].metric {
			best[f] = r
		}
	}
	for f, r := range best {
		if r != nil {
			v.def[f] = r.String()
		}
	}
	for _, a := range st.addrs {
		if !m.ignored(a.ifname) {
			v.addrs[a] = true
		}
	}
	for name, up := range st.links {
		if !m.ignored(name) {
			v.links[name] = up
		}
	}
	return v
}

// diff returns the flags and details of what changed from a to b.
func diff(a, b view) Change {
	var c Change
	var d []string
	for f, fam := range []string{"IPv4", "IPv6"} {
		if a.def[f] != b.def[f] {
			c.DefaultRoute = true
			d = append(d, fmt.Sprintf("%s default route %s -> %s", fam, orNone(a.def[f]), orNone(b.def[f])))
		}
	}
	var added, removed []string
	for k := range b.addrs {
		if !a.addrs[k] {
			added = append(added, k.addr.String()+" on "+k.ifname)
		}
	}
	for k := range a.addrs {
		if !b.addrs[k] {
			removed = append(removed, k.addr.String()+" on "+k.ifname)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	for _, s := range added {
		c.Address = true
		d = append(d, "address added "+s)
	}
	for _, s := range removed {
		c.Address = true
		d = append(d, "address removed "+s)
	}
	var links []string
	for name, up := range b.links {
		if was, ok := a.links[name]; (!ok && up) || (ok && was != up) {
			links = append(links, "link "+name+" "+upDown(up))
		}
	}
	for name, was := range a.links {
		if _, ok := b.links[name]; !ok && was {
			links = append(links, "link "+name+" removed")
		}
	}
	sort.Strings(links)
	if len(links) > 0 {
		c.Link = true
		d = append(d, links...)
	}
	c.Detail = joinDetails(d)
	return c
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// maxDetail bounds Change.Detail.
const maxDetail = 400

// joinDetails joins the non-empty parts, cut to maxDetail.
func joinDetails(parts []string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	s := strings.Join(keep, "; ")
	if len(s) > maxDetail {
		s = s[:maxDetail-3] + "..."
	}
	return s
}
