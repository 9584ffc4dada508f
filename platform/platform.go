package platform

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/routing"
)

// ProtoCVPN is the Linux rtm_protocol value cvpn puts on the routes it adds
// (routing.ProtoCVPN). Route watchers report those routes too; the
// enforcement engine uses it to recognise cvpn's own routes.
const ProtoCVPN = routing.ProtoCVPN

// Linux rtm_scope and rtm_type values used by this package.
const (
	ScopeUniverse = 0
	ScopeLink     = 253
	ScopeHost     = 254

	TypeUnicast = 1
	TypeLocal   = 2
)

// Family selects IPv4, IPv6 or both.
type Family int

const (
	FamilyAll Family = iota
	FamilyV4
	FamilyV6
)

func (f Family) String() string {
	switch f {
	case FamilyV4:
		return "ipv4"
	case FamilyV6:
		return "ipv6"
	default:
		return "all"
	}
}

// Matches reports whether a route of family is selected by f.
func (f Family) Matches(r routing.Route) bool {
	switch f {
	case FamilyV4:
		return !r.Is6()
	case FamilyV6:
		return r.Is6()
	default:
		return true
	}
}

// Errors returned by System implementations; test with errors.Is.
var (
	// ErrExists: the route (or interface) already exists.
	ErrExists = errors.New("already exists")
	// ErrNotFound: the route, interface or gateway does not exist.
	ErrNotFound = errors.New("not found")
)

// RouteUpdate is what a route watcher delivers, in the routing package's
// vocabulary: either a full snapshot of the main table (Resync true, Changes
// one routing.ChangeResync: on start, after an overflow or error of the
// event stream, and periodically as a safety net) or a batch of
// routing.ChangeAdded/ChangeDeleted coalesced within a few milliseconds, in
// the order the OS reported them. Changes can be handed to
// routing.Enforcer.Handle as they are.
type RouteUpdate struct {
	Resync   bool
	Snapshot []routing.Route
	Changes  []routing.Change
}

// ResyncUpdate is the update that carries a snapshot of the table.
func ResyncUpdate(routes []routing.Route) RouteUpdate {
	return RouteUpdate{Resync: true, Snapshot: routes, Changes: []routing.Change{{Kind: routing.ChangeResync}}}
}

// Routes is the main routing table of the OS (table 254 on Linux), as the
// routing package sees it (routing.RouteTable):
//   - List returns the routes of the main table, IPv4 and IPv6;
//   - Add adds the route exactly as given; an identical route gives
//     ErrExists;
//   - Delete deletes the route that matches every attribute of r, including
//     multipath next hops; a missing route gives ErrNotFound.
type Routes interface {
	routing.RouteTable
	// Watch reports main-table changes (IPv4 and IPv6) to fn until ctx is
	// done, then returns ctx.Err(). fn is called from the calling goroutine,
	// first with a snapshot. Routes added by cvpn are reported too (their
	// Protocol is ProtoCVPN).
	Watch(ctx context.Context, fn func(RouteUpdate)) error
}

// Hop is how the OS reaches a destination: next-hop gateway (zero when the
// destination is on-link), outgoing interface and preferred source.
type Hop struct {
	Gateway   netip.Addr
	Interface string
	IfIndex   int
	Src       netip.Addr
	// Local is true when the destination is an address of this machine
	// (loopback, own address); such a destination needs no bypass route.
	Local bool
}

// Address is an address to put on the TUN interface: Prefix carries the
// address and the prefix length (topology subnet: 10.8.0.6/24; IPv6:
// 2001:db8::1000/64). Peer is set for point-to-point (net30/p2p) addresses:
// ifconfig 10.8.0.6 10.8.0.5 is Prefix 10.8.0.6/32 with Peer 10.8.0.5.
type Address struct {
	Prefix netip.Prefix `json:"prefix"`
	Peer   netip.Addr   `json:"peer,omitzero"`
}

// System is the OS network stack as the tunnel configurator needs it.
type System interface {
	Routes
	// RouteTo returns how the OS reaches dst now (a route lookup; no traffic).
	RouteTo(dst netip.Addr) (Hop, error)
	// CreateTUN creates a TUN device. name may end in "%d" to take the first
	// free number. It returns the device and its actual name.
	CreateTUN(name string, mtu int) (tun.Device, string, error)
	// ConfigureInterface sets the MTU, adds the addresses and brings the
	// interface up; it returns the interface index.
	ConfigureInterface(name string, addrs []Address, mtu int) (int, error)
	// DeleteTUN deletes a TUN interface left by a crashed process. It gives
	// ErrNotFound when no such interface exists and an error when the
	// interface is not a TUN device.
	DeleteTUN(name string) error
	// DNS returns the DNS backend of the system.
	DNS() DNS
}

// DNSConfig is the DNS configuration pushed by the server.
type DNSConfig struct {
	Servers       []netip.Addr `json:"servers"`
	SearchDomains []string     `json:"search_domains,omitempty"`
	// RoutingDomains send their names to Servers without being search
	// domains (the dns option's resolve-domains; split DNS). Backends that
	// cannot split (resolv.conf) send every query to Servers and say so.
	RoutingDomains []string `json:"routing_domains,omitempty"`
	// FullTunnel routes every DNS query to the tunnel's servers
	// (redirect-gateway); otherwise only SearchDomains and RoutingDomains
	// go to them where the backend can split (systemd-resolved, scutil,
	// NRPT).
	FullTunnel bool `json:"full_tunnel,omitempty"`
	// BlockOutsideDNS is block-outside-dns: while the tunnel's DNS is
	// set, DNS (port 53) leaves only through the tunnel (Windows: WFP
	// filters of cvpn's own dynamic session; other systems ignore it, as
	// OpenVPN does).
	BlockOutsideDNS bool `json:"block_outside_dns,omitempty"`
}

// SplitDomains returns the domains whose names go to the tunnel's
// servers in a split configuration: SearchDomains then RoutingDomains,
// without a final dot and without repeats.
func (c DNSConfig) SplitDomains() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range append(append([]string(nil), c.SearchDomains...), c.RoutingDomains...) {
		d = strings.TrimSuffix(d, ".")
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// DNSRecord is what a DNS backend needs to undo its change, also after a
// crash: it is stored in the state file before anything changes.
type DNSRecord struct {
	Backend   string `json:"backend"`
	Interface string `json:"interface,omitempty"`
	IfIndex   int    `json:"ifindex,omitempty"`
	// resolv.conf backend: the file, what it was, and the hash of what we wrote.
	Path          string `json:"path,omitempty"`
	OrigSymlink   string `json:"orig_symlink,omitempty"`
	OrigContent   []byte `json:"orig_content,omitempty"`
	OrigMode      uint32 `json:"orig_mode,omitempty"`
	OrigMissing   bool   `json:"orig_missing,omitempty"`
	WrittenSHA256 string `json:"written_sha256,omitempty"`
	// Keys are the settings stores entries the backend created or replaced
	// (macOS dynamic store keys, Windows NRPT registry keys), in the order
	// they were changed; Revert undoes them in reverse.
	Keys []SavedKey `json:"keys,omitempty"`
	// Servers are the DNS servers written, to tell on revert whether a
	// replaced entry still holds cvpn's values.
	Servers []string `json:"servers,omitempty"`
}

// SavedKey is one settings store entry before cvpn changed it: Missing when
// it did not exist (revert deletes it), otherwise its dictionary.
type SavedKey struct {
	Key     string              `json:"key"`
	Missing bool                `json:"missing,omitempty"`
	Scalars map[string]string   `json:"scalars,omitempty"`
	Arrays  map[string][]string `json:"arrays,omitempty"`
}

// DNS configures name resolution for a tunnel interface.
type DNS interface {
	// Apply configures DNS for the interface. Before it changes anything it
	// calls save with the record Revert needs; when save fails nothing is
	// changed.
	Apply(ifname string, ifindex int, cfg DNSConfig, save func(DNSRecord) error) error
	// Revert undoes what Apply recorded.
	Revert(rec DNSRecord) error
}
