package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/windows/winroute"
	"github.com/cvpn/cvpn/routing"
)

// windowsHost is the Windows System: Wintun devices (wintun.dll must be
// beside the executable), winipcfg for addresses, routes and interface
// DNS, and NRPT registry rules for split DNS.
//
// Windows gives every route a program adds the same protocol (NetMgmt), so
// the host remembers the routes it added with Protocol ProtoCVPN and
// reports them with that protocol while it lives.
type windowsHost struct {
	log      *slog.Logger
	coalesce time.Duration
	resync   time.Duration
	dns      *nrptDNS

	mu  sync.Mutex
	own []winroute.Row
}

// Open returns the System of the running OS: Windows.
func Open(opts OpenOptions) (Host, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &windowsHost{log: log, coalesce: opts.CoalesceWindow, resync: opts.ResyncInterval}
	if h.coalesce <= 0 {
		h.coalesce = 5 * time.Millisecond
	}
	if h.resync <= 0 {
		h.resync = 30 * time.Second
	}
	h.dns = &nrptDNS{log: log}
	return h, nil
}

func (h *windowsHost) Close() error { return nil }

func (h *windowsHost) DNS() DNS { return h.dns }

func afOf(f Family) winipcfg.AddressFamily {
	switch f {
	case FamilyV4:
		return windows.AF_INET
	case FamilyV6:
		return windows.AF_INET6
	}
	return windows.AF_UNSPEC
}

func rowFromMib(m *winipcfg.MibIPforwardRow2) winroute.Row {
	return winroute.Row{
		LUID: uint64(m.InterfaceLUID), Index: m.InterfaceIndex,
		Dst: m.DestinationPrefix.Prefix(), NextHop: m.NextHop.Addr(),
		SitePrefixLength: m.SitePrefixLength, Metric: m.Metric, Protocol: uint32(m.Protocol),
		Loopback: m.Loopback, AutoconfigureAddress: m.AutoconfigureAddress, Publish: m.Publish,
		Immortal: m.Immortal, Origin: uint32(m.Origin),
	}
}

func mibFromRow(r winroute.Row) (*winipcfg.MibIPforwardRow2, error) {
	m := &winipcfg.MibIPforwardRow2{}
	m.Init()
	m.InterfaceLUID = winipcfg.LUID(r.LUID)
	m.InterfaceIndex = r.Index
	if err := m.DestinationPrefix.SetPrefix(r.Dst); err != nil {
		return nil, err
	}
	if err := m.NextHop.SetAddr(r.NextHop); err != nil {
		return nil, err
	}
	m.SitePrefixLength = r.SitePrefixLength
	m.Metric = r.Metric
	m.Protocol = winipcfg.RouteProtocol(r.Protocol)
	m.Loopback, m.AutoconfigureAddress, m.Publish, m.Immortal = r.Loopback, r.AutoconfigureAddress, r.Publish, r.Immortal
	return m, nil
}

// locals returns the host's unicast addresses with their on-link prefixes.
func locals() winroute.Locals {
	rows, err := winipcfg.GetUnicastIPAddressTable(windows.AF_UNSPEC)
	if err != nil {
		return nil
	}
	out := make(winroute.Locals, 0, len(rows))
	for i := range rows {
		a := rows[i].Address.Addr()
		if a.IsValid() {
			out = append(out, netip.PrefixFrom(a.WithZone(""), int(rows[i].OnLinkPrefixLength)))
		}
	}
	return out
}

// ifNames resolves interface indexes to names (aliases), caching within
// one call.
type ifNames map[uint32]string

func (n ifNames) name(idx uint32) string {
	if s, ok := n[idx]; ok {
		return s
	}
	s := ""
	if ifi, err := net.InterfaceByIndex(int(idx)); err == nil {
		s = ifi.Name
	}
	n[idx] = s
	return s
}

func (h *windowsHost) isOwn(row winroute.Row) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range h.own {
		if winroute.SameRoute(o, row) {
			return true
		}
	}
	return false
}

func (h *windowsHost) convert(m *winipcfg.MibIPforwardRow2, names ifNames, loc winroute.Locals) routing.Route {
	row := rowFromMib(m)
	r := winroute.ToRoute(row, names.name, loc)
	if h.isOwn(row) {
		r.Protocol = ProtoCVPN
	}
	return r
}

// List implements routing.RouteTable: the main table, IPv4 and IPv6.
func (h *windowsHost) List() ([]routing.Route, error) { return h.list(FamilyAll) }

// list lists the main table's routes of family f.
func (h *windowsHost) list(f Family) ([]routing.Route, error) {
	rows, err := winipcfg.GetIPForwardTable2(afOf(f))
	if err != nil {
		return nil, fmt.Errorf("platform: list %s routes: %w", f, err)
	}
	names, loc := ifNames{}, locals()
	out := make([]routing.Route, 0, len(rows))
	for i := range rows {
		r := h.convert(&rows[i], names, loc)
		if f.Matches(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// luidOf returns the LUID and index of a route's interface.
func luidOf(idx int, name string) (winipcfg.LUID, uint32, error) {
	if idx == 0 {
		if name == "" {
			return 0, 0, errors.New("route without interface")
		}
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return 0, 0, fmt.Errorf("interface %s: %w", name, ErrNotFound)
		}
		idx = ifi.Index
	}
	luid, err := winipcfg.LUIDFromIndex(uint32(idx))
	if err != nil {
		return 0, 0, fmt.Errorf("interface index %d: %w", idx, ErrNotFound)
	}
	return luid, uint32(idx), nil
}

func (h *windowsHost) row(r routing.Route) (winroute.Row, error) {
	luid, idx, err := luidOf(r.IfIndex, r.Interface)
	if err != nil {
		return winroute.Row{}, err
	}
	return winroute.FromRoute(r, uint64(luid), idx)
}

func (h *windowsHost) Add(r routing.Route) error {
	row, err := h.row(r)
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	m, err := mibFromRow(row)
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	err = m.Create()
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) && row.Protocol != winroute.ProtoNetMgmt {
		// Restoring a route the OS made (such as NT static): programs may
		// only add NetMgmt routes.
		h.log.Debug("route protocol refused; adding as NetMgmt", "route", RouteString(r), "protocol", row.Protocol)
		m.Protocol = winroute.ProtoNetMgmt
		err = m.Create()
	}
	switch {
	case err == nil:
	case errors.Is(err, windows.ERROR_OBJECT_ALREADY_EXISTS):
		return fmt.Errorf("route %s: %w", RouteString(r), ErrExists)
	default:
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	if r.Protocol == ProtoCVPN {
		h.mu.Lock()
		h.own = append(h.own, row)
		h.mu.Unlock()
	}
	return nil
}

func (h *windowsHost) Delete(r routing.Route) error {
	row, err := h.row(r) // a vanished interface gives ErrNotFound
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	m, err := mibFromRow(row)
	if err != nil {
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	if err := m.Delete(); err != nil {
		if errors.Is(err, windows.ERROR_NOT_FOUND) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
			return fmt.Errorf("route %s: %w", RouteString(r), ErrNotFound)
		}
		return fmt.Errorf("route %s: %w", RouteString(r), err)
	}
	h.mu.Lock()
	for i, o := range h.own {
		if winroute.SameRoute(o, row) {
			h.own = append(h.own[:i], h.own[i+1:]...)
			break
		}
	}
	h.mu.Unlock()
	return nil
}

// RouteTo picks the route Windows would use (longest prefix, then lowest
// route plus interface metric) from the routing table.
func (h *windowsHost) RouteTo(dst netip.Addr) (Hop, error) {
	dst = dst.Unmap()
	f := FamilyV4
	if dst.Is6() {
		f = FamilyV6
	}
	routes, err := h.list(f)
	if err != nil {
		return Hop{}, err
	}
	metrics := map[int]uint32{}
	ifMetric := func(idx int, v6 bool) uint32 {
		if m, ok := metrics[idx]; ok {
			return m
		}
		var m uint32
		if luid, err := winipcfg.LUIDFromIndex(uint32(idx)); err == nil {
			fam := winipcfg.AddressFamily(windows.AF_INET)
			if v6 {
				fam = windows.AF_INET6
			}
			if row, err := luid.IPInterface(fam); err == nil {
				m = row.Metric
			}
		}
		metrics[idx] = m
		return m
	}
	best, ok := winroute.BestRoute(routes, ifMetric, dst)
	if !ok {
		return Hop{}, fmt.Errorf("no route to %s: %w", dst, ErrNotFound)
	}
	hop := Hop{Gateway: best.Gateway, IfIndex: best.IfIndex, Interface: best.Interface,
		Local: best.Type == routing.TypeLocal || dst.IsLoopback()}
	for _, l := range locals() {
		if l.Addr().Is4() == dst.Is4() && !l.Addr().IsLinkLocalUnicast() {
			if ifi, err := net.InterfaceByIndex(best.IfIndex); err == nil {
				if addrs, err := ifi.Addrs(); err == nil {
					for _, a := range addrs {
						if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == l.Addr() {
							hop.Src = l.Addr()
						}
					}
				}
			}
			if hop.Src.IsValid() {
				break
			}
		}
	}
	return hop, nil
}

// CreateTUN creates a Wintun adapter; a trailing "%d" in name becomes the
// first free number.
func (h *windowsHost) CreateTUN(name string, mtu int) (tun.Device, string, error) {
	name, err := winroute.ResolveName(name, func(n string) bool {
		_, err := net.InterfaceByName(n)
		return err == nil
	})
	if err != nil {
		return nil, "", err
	}
	dev, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, "", fmt.Errorf("%w (is wintun.dll beside the executable?)", err)
	}
	actual, err := dev.Name()
	if err != nil {
		dev.Close()
		return nil, "", fmt.Errorf("TUN name: %w", err)
	}
	return dev, actual, nil
}

// ConfigureInterface sets the addresses (a point-to-point address becomes
// the smallest subnet holding address and peer) and the MTU of each family
// used. Wintun adapters are up once their session runs.
func (h *windowsHost) ConfigureInterface(name string, addrs []Address, mtu int) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	luid, err := winipcfg.LUIDFromIndex(uint32(ifi.Index))
	if err != nil {
		return 0, fmt.Errorf("interface %s: LUID: %w", name, err)
	}
	var prefixes []netip.Prefix
	fams := map[winipcfg.AddressFamily]bool{}
	for _, a := range addrs {
		p := winroute.InterfacePrefix(a.Prefix, a.Peer)
		prefixes = append(prefixes, p)
		if p.Addr().Is4() {
			fams[windows.AF_INET] = true
		} else {
			fams[windows.AF_INET6] = true
		}
	}
	if err := luid.SetIPAddresses(prefixes); err != nil {
		return 0, fmt.Errorf("interface %s: addresses %v: %w", name, prefixes, err)
	}
	for fam := range fams {
		row, err := luid.IPInterface(fam)
		if err != nil {
			return 0, fmt.Errorf("interface %s: IP interface: %w", name, err)
		}
		row.NLMTU = uint32(mtu)
		if err := row.Set(); err != nil {
			return 0, fmt.Errorf("interface %s: MTU %d: %w", name, mtu, err)
		}
	}
	return ifi.Index, nil
}

// DeleteTUN: Wintun removes an adapter when the process that created it
// ends, so after a crash it is gone; an adapter of that name belongs to a
// running process and is left alone.
func (h *windowsHost) DeleteTUN(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("interface %s: %w", name, ErrNotFound)
	}
	h.log.Info("adapter of a previous run belongs to a running process; leaving it", "interface", name)
	return fmt.Errorf("interface %s: in use by another process: %w", name, ErrNotFound)
}
