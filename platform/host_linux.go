package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/platform/vnettun"
	"github.com/cvpn/cvpn/routing"
)

// linuxHost is the netlink System. Every operation goes through one
// netlink handle bound to a network namespace (the current one, or the one
// given to OpenNetNS); TUN creation runs on a thread switched into it.
type linuxHost struct {
	h        *netlink.Handle
	ns       *netns.NsHandle // nil: the current namespace
	log      *slog.Logger
	dns      AutoDNS
	bus      *systemBusResolved
	coalesce time.Duration
	resync   time.Duration
}

// Open returns the System of the running OS: netlink in the current
// network namespace.
func Open(opts OpenOptions) (Host, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("platform: netlink: %w", err)
	}
	return newLinuxHost(h, nil, opts), nil
}

// OpenNetNS returns a System working in the network namespace ns (which
// must stay open until Close). Used by tests and tools that configure a
// namespace from outside.
func OpenNetNS(ns netns.NsHandle, opts OpenOptions) (Host, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("platform: netlink in namespace: %w", err)
	}
	return newLinuxHost(h, &ns, opts), nil
}

func (o *OpenOptions) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func newLinuxHost(h *netlink.Handle, ns *netns.NsHandle, opts OpenOptions) *linuxHost {
	l := &linuxHost{h: h, ns: ns, log: opts.logger(), coalesce: opts.CoalesceWindow, resync: opts.ResyncInterval}
	if l.coalesce <= 0 {
		l.coalesce = 5 * time.Millisecond
	}
	if l.resync <= 0 {
		l.resync = 30 * time.Second
	}
	l.dns = AutoDNS{ResolvConfPath: opts.ResolvConfPath, Logger: l.log}
	if !opts.NoResolved {
		bus, err := connectResolved()
		if err != nil {
			l.log.Debug("no system bus; systemd-resolved backend disabled", "err", err)
		} else {
			l.bus = bus
			l.dns.Bus = bus
		}
	}
	return l
}

func (l *linuxHost) Close() error {
	l.h.Close()
	if l.bus != nil {
		return l.bus.Close()
	}
	return nil
}

func (l *linuxHost) DNS() DNS { return l.dns }

// nlFamily maps a Family to netlink's.
func nlFamily(f Family) int {
	switch f {
	case FamilyV4:
		return netlink.FAMILY_V4
	case FamilyV6:
		return netlink.FAMILY_V6
	default:
		return netlink.FAMILY_ALL
	}
}

// linkNames resolves interface indexes to names, caching within one call.
type linkNames struct {
	h     *netlink.Handle
	cache map[int]string
}

func (n *linkNames) name(idx int) string {
	if idx <= 0 {
		return ""
	}
	if s, ok := n.cache[idx]; ok {
		return s
	}
	name := ""
	if link, err := n.h.LinkByIndex(idx); err == nil {
		name = link.Attrs().Name
	}
	if n.cache == nil {
		n.cache = map[int]string{}
	}
	n.cache[idx] = name
	return name
}

// List implements routing.RouteTable: the main table, IPv4 and IPv6.
func (l *linuxHost) List() ([]routing.Route, error) { return l.list(FamilyAll) }

// list lists the main table's routes of family f.
func (l *linuxHost) list(f Family) ([]routing.Route, error) {
	var (
		nl  []netlink.Route
		err error
	)
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	for attempt := 0; attempt < 5; attempt++ {
		nl, err = l.h.RouteListFiltered(nlFamily(f), filter, netlink.RT_FILTER_TABLE)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("platform: list %s routes: %w", f, err)
	}
	names := &linkNames{h: l.h}
	out := make([]routing.Route, 0, len(nl))
	for i := range nl {
		if nl[i].Table != unix.RT_TABLE_MAIN {
			continue
		}
		out = append(out, fromNetlink(&nl[i], names.name))
	}
	return out, nil
}

func ipToAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	if ip.To4() != nil {
		return a.Unmap()
	}
	return a
}

// fromNetlink converts a netlink route; name resolves interface indexes.
func fromNetlink(r *netlink.Route, name func(int) string) routing.Route {
	out := routing.Route{
		Gateway:   ipToAddr(r.Gw),
		IfIndex:   r.LinkIndex,
		Interface: name(r.LinkIndex),
		Metric:    uint32(r.Priority),
		Table:     uint32(r.Table),
		Protocol:  uint8(r.Protocol),
		Scope:     uint8(r.Scope),
		Type:      uint8(r.Type),
		Src:       ipToAddr(r.Src),
		Flags:     uint32(r.Flags),
		MTU:       uint32(r.MTU),
	}
	if r.Dst != nil {
		ones, _ := r.Dst.Mask.Size()
		out.Dst = netip.PrefixFrom(ipToAddr(r.Dst.IP), ones)
	} else if r.Family == netlink.FAMILY_V6 {
		out.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	} else {
		out.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	for _, h := range r.MultiPath {
		out.Hops = append(out.Hops, routing.NextHop{
			Gateway:   ipToAddr(h.Gw),
			IfIndex:   h.LinkIndex,
			Interface: name(h.LinkIndex),
			Weight:    h.Hops + 1,
			Flags:     uint32(h.Flags),
		})
	}
	return out
}

// settableFlags are the rtm_flags / rtnh_flags a request may carry; the
// kernel sets the others (dead, linkdown, offload) itself and refuses them.
const settableFlags = unix.RTNH_F_ONLINK

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

func addrToIP(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return net.IP(a.Unmap().AsSlice())
}

// ifIndex returns the index of a route's interface, resolving the name
// when the index is not known.
func (l *linuxHost) ifIndex(idx int, name string) (int, error) {
	if idx != 0 || name == "" {
		return idx, nil
	}
	link, err := l.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return 0, fmt.Errorf("interface %s: %w", name, ErrNotFound)
		}
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return link.Attrs().Index, nil
}

// toNetlink converts a route for a request.
func (l *linuxHost) toNetlink(r routing.Route) (*netlink.Route, error) {
	if !r.Dst.IsValid() {
		return nil, errors.New("route without destination")
	}
	idx, err := l.ifIndex(r.IfIndex, r.Interface)
	if err != nil {
		return nil, err
	}
	table := int(r.Table)
	if table == 0 {
		table = unix.RT_TABLE_MAIN
	}
	family := netlink.FAMILY_V4
	if r.Is6() {
		family = netlink.FAMILY_V6
	}
	out := &netlink.Route{
		LinkIndex: idx,
		Dst:       prefixToIPNet(r.Dst.Masked()),
		Gw:        addrToIP(r.Gateway),
		Src:       addrToIP(r.Src),
		Priority:  int(r.Metric),
		Table:     table,
		Protocol:  netlink.RouteProtocol(r.Protocol),
		Scope:     netlink.Scope(r.Scope),
		Type:      int(r.Type),
		Family:    family,
		Flags:     int(r.Flags & settableFlags),
		MTU:       int(r.MTU),
	}
	for _, h := range r.Hops {
		hidx, err := l.ifIndex(h.IfIndex, h.Interface)
		if err != nil {
			return nil, err
		}
		w := h.Weight - 1
		if w < 0 {
			w = 0
		}
		out.MultiPath = append(out.MultiPath, &netlink.NexthopInfo{
			LinkIndex: hidx, Gw: addrToIP(h.Gateway), Hops: w, Flags: int(h.Flags & settableFlags),
		})
	}
	return out, nil
}

func (l *linuxHost) Add(r routing.Route) error {
	nr, err := l.toNetlink(r)
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	if err := l.h.RouteAdd(nr); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("route %s: %w", RouteString(r), ErrExists)
		}
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	return nil
}

func (l *linuxHost) Delete(r routing.Route) error {
	nr, err := l.toNetlink(r)
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	if err := l.h.RouteDel(nr); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("route %s: %w", RouteString(r), ErrNotFound)
		}
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	return nil
}

func (l *linuxHost) RouteTo(dst netip.Addr) (Hop, error) {
	routes, err := l.h.RouteGet(addrToIP(dst))
	if err != nil {
		if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EHOSTUNREACH) {
			return Hop{}, fmt.Errorf("no route to %s: %w", dst, ErrNotFound)
		}
		return Hop{}, fmt.Errorf("route lookup %s: %w", dst, err)
	}
	if len(routes) == 0 {
		return Hop{}, fmt.Errorf("no route to %s: %w", dst, ErrNotFound)
	}
	r := routes[0]
	names := &linkNames{h: l.h}
	hop := Hop{
		Gateway:   ipToAddr(r.Gw),
		IfIndex:   r.LinkIndex,
		Interface: names.name(r.LinkIndex),
		Src:       ipToAddr(r.Src),
		Local:     r.Type == unix.RTN_LOCAL || dst.IsLoopback(),
	}
	return hop, nil
}

// inNetNS runs fn on a locked OS thread switched into the host's network
// namespace. A thread that cannot be switched back is never unlocked, so
// the Go runtime discards it with the goroutine.
func (l *linuxHost) inNetNS(fn func() error) error {
	if l.ns == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(*l.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func (l *linuxHost) CreateTUN(name string, mtu int) (tun.Device, string, error) {
	var dev tun.Device
	err := l.inNetNS(func() error {
		var err error
		dev, err = vnettun.Create(name, mtu)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	actual, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, "", fmt.Errorf("TUN name: %w", err)
	}
	return dev, actual, nil
}

func (l *linuxHost) ConfigureInterface(name string, addrs []Address, mtu int) (int, error) {
	link, err := l.h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	if err := l.h.LinkSetMTU(link, mtu); err != nil {
		return 0, fmt.Errorf("interface %s: MTU %d: %w", name, mtu, err)
	}
	for _, a := range addrs {
		if err := l.h.AddrAdd(link, linuxAddr(a)); err != nil {
			if a.Peer.IsValid() {
				return 0, fmt.Errorf("interface %s: address %s peer %s: %w", name, a.Prefix, a.Peer, err)
			}
			return 0, fmt.Errorf("interface %s: address %s: %w", name, a.Prefix, err)
		}
	}
	if err := l.h.LinkSetUp(link); err != nil {
		return 0, fmt.Errorf("interface %s: up: %w", name, err)
	}
	return link.Attrs().Index, nil
}

func (l *linuxHost) DeleteTUN(name string) error {
	link, err := l.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return fmt.Errorf("interface %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("interface %s: %w", name, err)
	}
	if link.Type() != "tuntap" {
		return fmt.Errorf("interface %s is a %s device, not a TUN device; leaving it", name, link.Type())
	}
	if err := l.h.LinkDel(link); err != nil {
		return fmt.Errorf("delete interface %s: %w", name, err)
	}
	return nil
}
