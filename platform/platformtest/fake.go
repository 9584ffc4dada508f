package platformtest

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"

	"golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/tuntest"

	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

// Interface is a network interface of the fake system.
type Interface struct {
	Name      string
	Index     int
	TUN       bool
	Up        bool
	MTU       int
	Addresses []platform.Address
	// Chan is the packet side of a TUN interface: packets the tunnel writes
	// to the device arrive on Chan.Inbound; packets sent on Chan.Outbound are
	// read from it.
	Chan *tuntest.ChannelTUN
}

// System is an in-memory platform.System: a main routing table with route
// events, interfaces (TUN devices backed by wireguard's tuntest channel
// TUN) and a DNS recorder. It is safe for concurrent use.
type System struct {
	mu       sync.Mutex
	routes   []routing.Route
	links    map[string]*Interface
	next     int
	watchers map[*watcher]struct{}
	dns      *DNS

	// FailAdd, when set, is called before each Add; a non-nil result is
	// returned instead of adding.
	FailAdd func(routing.Route) error
	// FailCreateTUN, when set, is returned by CreateTUN.
	FailCreateTUN error
}

// New returns an empty fake system with a loopback interface "lo".
func New() *System {
	s := &System{links: map[string]*Interface{}, watchers: map[*watcher]struct{}{}, dns: &DNS{}}
	s.AddInterface("lo", netip.MustParsePrefix("127.0.0.1/8"))
	return s
}

var _ platform.System = (*System)(nil)

// AddInterface adds an up, non-TUN interface with addresses and their
// connected routes (protocol kernel, scope link) and returns its index.
func (s *System) AddInterface(name string, addrs ...netip.Prefix) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	ifc := &Interface{Name: name, Index: s.next, Up: true, MTU: 1500}
	for _, a := range addrs {
		ifc.Addresses = append(ifc.Addresses, platform.Address{Prefix: a})
		if name == "lo" {
			continue
		}
		s.addLocked(routing.Route{
			Dst: a.Masked(), Interface: name, IfIndex: ifc.Index, Table: routing.MainTable,
			Protocol: 2, Scope: platform.ScopeLink, Type: platform.TypeUnicast, Src: a.Addr(),
		})
	}
	s.links[name] = ifc
	return ifc.Index
}

// Interface returns a copy of the interface called name.
func (s *System) Interface(name string) (Interface, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ifc, ok := s.links[name]
	if !ok {
		return Interface{}, false
	}
	c := *ifc
	c.Addresses = slices.Clone(ifc.Addresses)
	return c, true
}

// Interfaces returns the names of all interfaces, sorted.
func (s *System) Interfaces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.links {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// FakeDNS returns the DNS recorder.
func (s *System) FakeDNS() *DNS { return s.dns }

// DNS implements platform.System.
func (s *System) DNS() platform.DNS { return s.dns }

// Routes returns a copy of the whole table, in insertion order.
func (s *System) Routes() []routing.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes)
}

// List implements platform.Routes (routing.RouteTable): every route.
func (s *System) List() ([]routing.Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes), nil
}

// normalize fills interface name/index and the table like the kernel
// reports them.
func (s *System) normalize(r routing.Route) (routing.Route, error) {
	if !r.Dst.IsValid() {
		return r, fmt.Errorf("route without destination")
	}
	r.Dst = r.Dst.Masked()
	if r.Table == 0 {
		r.Table = routing.MainTable
	}
	if r.Type == 0 {
		r.Type = platform.TypeUnicast
	}
	fill := func(name *string, idx *int) error {
		if *name == "" && *idx == 0 {
			return nil
		}
		for _, l := range s.links {
			if (*name != "" && l.Name == *name) || (*name == "" && l.Index == *idx) {
				if *idx != 0 && *idx != l.Index {
					continue
				}
				*name, *idx = l.Name, l.Index
				return nil
			}
		}
		return fmt.Errorf("interface %q (index %d): %w", *name, *idx, platform.ErrNotFound)
	}
	if err := fill(&r.Interface, &r.IfIndex); err != nil {
		return r, err
	}
	r.Hops = slices.Clone(r.Hops)
	for i := range r.Hops {
		if err := fill(&r.Hops[i].Interface, &r.Hops[i].IfIndex); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Add implements platform.Routes. Like the kernel, a second route with the
// same destination, table and metric gives ErrExists.
func (s *System) Add(r routing.Route) error {
	if s.FailAdd != nil {
		if err := s.FailAdd(r); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.normalize(r)
	if err != nil {
		return fmt.Errorf("route %s: %w", platform.RouteString(r), err)
	}
	for _, o := range s.routes {
		if o.Dst == r.Dst && o.Table == r.Table && o.Metric == r.Metric {
			return fmt.Errorf("route %s: %w", platform.RouteString(r), platform.ErrExists)
		}
	}
	s.addLocked(r)
	return nil
}

func (s *System) addLocked(r routing.Route) {
	s.routes = append(s.routes, r)
	s.notifyLocked(routing.Change{Kind: routing.ChangeAdded, Route: r})
}

// Delete implements platform.Routes: every attribute must match.
func (s *System) Delete(r routing.Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.normalize(r)
	if err != nil {
		return fmt.Errorf("route %s: %w", platform.RouteString(r), platform.ErrNotFound)
	}
	for i, o := range s.routes {
		if reflect.DeepEqual(o, n) {
			s.routes = slices.Delete(s.routes, i, i+1)
			s.notifyLocked(routing.Change{Kind: routing.ChangeDeleted, Route: o})
			return nil
		}
	}
	return fmt.Errorf("route %s: %w", platform.RouteString(r), platform.ErrNotFound)
}

// RouteTo implements platform.System with a longest-prefix match (lowest
// metric among equals) over the table; addresses of interfaces are local.
func (s *System) RouteTo(dst netip.Addr) (platform.Hop, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = dst.Unmap()
	for _, l := range s.links {
		for _, a := range l.Addresses {
			if a.Prefix.Addr() == dst || (l.Name == "lo" && a.Prefix.Contains(dst)) {
				return platform.Hop{Interface: "lo", IfIndex: s.links["lo"].Index, Src: dst, Local: true}, nil
			}
		}
	}
	var best *routing.Route
	for i := range s.routes {
		r := &s.routes[i]
		if !r.Dst.Contains(dst) {
			continue
		}
		if best == nil || r.Dst.Bits() > best.Dst.Bits() || (r.Dst.Bits() == best.Dst.Bits() && r.Metric < best.Metric) {
			best = r
		}
	}
	if best == nil {
		return platform.Hop{}, fmt.Errorf("no route to %s: %w", dst, platform.ErrNotFound)
	}
	return platform.Hop{Gateway: best.Gateway, Interface: best.Interface, IfIndex: best.IfIndex, Src: best.Src}, nil
}

// CreateTUN implements platform.System; "%d" takes the first free number.
func (s *System) CreateTUN(name string, mtu int) (tun.Device, string, error) {
	if s.FailCreateTUN != nil {
		return nil, "", s.FailCreateTUN
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	actual := name
	if pattern, ok := strings.CutSuffix(name, "%d"); ok {
		for i := 0; ; i++ {
			actual = fmt.Sprintf("%s%d", pattern, i)
			if _, used := s.links[actual]; !used {
				break
			}
		}
	} else if _, used := s.links[name]; used {
		return nil, "", fmt.Errorf("interface %s: %w", name, platform.ErrExists)
	}
	s.next++
	ch := tuntest.NewChannelTUN()
	s.links[actual] = &Interface{Name: actual, Index: s.next, TUN: true, MTU: mtu, Chan: ch}
	return &device{Device: ch.TUN(), name: actual, mtu: mtu, sys: s}, actual, nil
}

// ConfigureInterface implements platform.System.
func (s *System) ConfigureInterface(name string, addrs []platform.Address, mtu int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ifc, ok := s.links[name]
	if !ok {
		return 0, fmt.Errorf("interface %s: %w", name, platform.ErrNotFound)
	}
	ifc.MTU = mtu
	ifc.Addresses = append(ifc.Addresses, addrs...)
	ifc.Up = true
	return ifc.Index, nil
}

// DeleteTUN implements platform.System.
func (s *System) DeleteTUN(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ifc, ok := s.links[name]
	if !ok {
		return fmt.Errorf("interface %s: %w", name, platform.ErrNotFound)
	}
	if !ifc.TUN {
		return fmt.Errorf("interface %s is not a TUN device", name)
	}
	s.removeLinkLocked(name)
	return nil
}

// removeLinkLocked removes an interface and, like the kernel, its routes.
func (s *System) removeLinkLocked(name string) {
	ifc, ok := s.links[name]
	if !ok {
		return
	}
	delete(s.links, name)
	kept := s.routes[:0]
	var gone []routing.Route
	for _, r := range s.routes {
		if r.IfIndex == ifc.Index {
			gone = append(gone, r)
			continue
		}
		kept = append(kept, r)
	}
	s.routes = kept
	for _, r := range gone {
		s.notifyLocked(routing.Change{Kind: routing.ChangeDeleted, Route: r})
	}
}

// device is a TUN device whose Close removes the interface, like a
// non-persistent Linux TUN.
type device struct {
	tun.Device
	name string
	mtu  int
	sys  *System
	once sync.Once
}

func (d *device) Name() (string, error) { return d.name, nil }
func (d *device) MTU() (int, error)     { return d.mtu, nil }
func (d *device) Close() error {
	var err error
	d.once.Do(func() {
		d.sys.mu.Lock()
		d.sys.removeLinkLocked(d.name)
		d.sys.mu.Unlock()
		err = d.Device.Close()
	})
	return err
}

// Crash simulates the death of the process that owns the TUN device name:
// the kernel removes the interface and its routes; nothing else changes.
func (s *System) Crash(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLinkLocked(name)
}

// watcher is one Watch call's queue.
type watcher struct {
	pending []routing.Change
	resync  bool
	wake    chan struct{}
}

func (s *System) notifyLocked(ev routing.Change) {
	for w := range s.watchers {
		w.pending = append(w.pending, ev)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Resync makes every watcher deliver a snapshot, as after an overflow.
func (s *System) Resync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		w.resync = true
		w.pending = nil
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Watch implements platform.Routes: a snapshot first, then each change
// (or group of changes made before the watcher woke) as one update.
func (s *System) Watch(ctx context.Context, fn func(platform.RouteUpdate)) error {
	w := &watcher{wake: make(chan struct{}, 1), resync: true}
	s.mu.Lock()
	s.watchers[w] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, w)
		s.mu.Unlock()
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		var up platform.RouteUpdate
		deliver := false
		if w.resync {
			up = platform.ResyncUpdate(slices.Clone(s.routes))
			w.resync, w.pending, deliver = false, nil, true
		} else if len(w.pending) > 0 {
			up = platform.RouteUpdate{Changes: w.pending}
			w.pending, deliver = nil, true
		}
		s.mu.Unlock()
		if deliver {
			fn(up)
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.wake:
		}
	}
}

// DNS is a DNS recorder implementing platform.DNS.
type DNS struct {
	mu      sync.Mutex
	applied map[string]platform.DNSConfig
	log     []string
	// FailApply, when set, is returned by Apply after save.
	FailApply error
}

// Apply implements platform.DNS.
func (d *DNS) Apply(ifname string, ifindex int, cfg platform.DNSConfig, save func(platform.DNSRecord) error) error {
	if err := save(platform.DNSRecord{Backend: "fake", Interface: ifname, IfIndex: ifindex}); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.FailApply != nil {
		return d.FailApply
	}
	if d.applied == nil {
		d.applied = map[string]platform.DNSConfig{}
	}
	d.applied[ifname] = cfg
	d.log = append(d.log, "apply "+ifname)
	return nil
}

// Revert implements platform.DNS.
func (d *DNS) Revert(rec platform.DNSRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.applied, rec.Interface)
	d.log = append(d.log, "revert "+rec.Interface)
	return nil
}

// Config returns the DNS configuration applied to ifname.
func (d *DNS) Config(ifname string) (platform.DNSConfig, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.applied[ifname]
	return c, ok
}

// Log returns "apply IF" / "revert IF" in call order.
func (d *DNS) Log() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.log)
}

// SetMTU implements platform.InterfaceUpdater.
func (s *System) SetMTU(name string, mtu int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ifc, ok := s.links[name]
	if !ok {
		return fmt.Errorf("interface %s: %w", name, platform.ErrNotFound)
	}
	ifc.MTU = mtu
	return nil
}

// ReplaceAddresses implements platform.InterfaceUpdater.
func (s *System) ReplaceAddresses(name string, old, new []platform.Address) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ifc, ok := s.links[name]
	if !ok {
		return fmt.Errorf("interface %s: %w", name, platform.ErrNotFound)
	}
	var keep []platform.Address
	for _, a := range ifc.Addresses {
		if !slices.Contains(old, a) || slices.Contains(new, a) {
			keep = append(keep, a)
		}
	}
	for _, a := range new {
		if !slices.Contains(keep, a) {
			keep = append(keep, a)
		}
	}
	ifc.Addresses = keep
	return nil
}
