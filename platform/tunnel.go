package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/routing"
)

// Defaults of TunnelConfig.
const (
	DefaultTUNName = "cvpn%d"
	DefaultMTU     = 1500
	DefaultID      = "tunnel"
)

// TunnelConfig is everything the session negotiated that changes the OS.
type TunnelConfig struct {
	// ID names the state file (letters, digits, '-', '_', '.'); one per
	// simultaneous tunnel. Default "tunnel".
	ID string
	// Name is the TUN interface name, or a pattern ending in "%d" for the
	// first free number. Default "cvpn%d".
	Name string
	// MTU of the TUN interface (tun-mtu). Default 1500.
	MTU int
	// Addresses of the TUN interface (ifconfig, ifconfig-ipv6).
	Addresses []Address
	// Routes go through the tunnel (route, route-ipv6).
	Routes []TunnelRoute
	// RedirectIPv4 and RedirectIPv6 send all traffic through the tunnel
	// (redirect-gateway def1 [ipv6]). IPv4 uses 0.0.0.0/1 and 128.0.0.0/1,
	// IPv6 ::/3, 2000::/4, 3000::/4 and fc00::/7 like OpenVPN, so the
	// original default routes are never touched.
	RedirectIPv4 bool
	RedirectIPv6 bool
	// Servers are the VPN server addresses the transport uses. When a tunnel
	// route covers one of them, a host route through the gateway the server
	// is reached by now is added, so the tunnel never loops.
	Servers []netip.Addr
	// NetGatewayRoutes go through the original default gateway
	// (route ... net_gateway).
	NetGatewayRoutes []netip.Prefix
	// Metric of tunnel routes without their own; 0 for the OS default.
	Metric uint32
	// DNS, nil to leave DNS alone.
	DNS *DNSConfig
	// Prepared, when set, is the TUN device Prepare created for this
	// tunnel; Apply takes it over instead of creating one.
	Prepared *Prepared
}

// TunnelRoute is a route through the tunnel.
type TunnelRoute struct {
	Dst netip.Prefix
	// Gateway is optional (route-gateway in topology subnet); the zero Addr
	// routes straight to the interface.
	Gateway netip.Addr
	Metric  uint32
}

// Configurator applies tunnel configurations to a System, recording every
// change in a state file in StateDir.
type Configurator struct {
	Sys      System
	StateDir string
	Logger   *slog.Logger
	// ProcessAlive reports whether the process that wrote a state file still
	// runs; nil uses the OS. Recover skips state files of live processes
	// other than this one.
	ProcessAlive func(pid int) bool
}

func (c *Configurator) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Applied is a configured tunnel. Close undoes it.
type Applied struct {
	// Device is the TUN device; packets are read from and written to it.
	// On Linux it uses virtio headers: Read and Write need an offset of at
	// least 10 bytes (wireguard's tun package, IFF_VNET_HDR).
	Device tun.Device
	// Name and IfIndex identify the TUN interface.
	Name    string
	IfIndex int

	c         *Configurator
	statePath string
	state     State
	closeOnce sync.Once
	closeErr  error
}

// redirectRoutes are the destinations of redirect-gateway def1.
var (
	redirect4 = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")}
	redirect6 = []netip.Prefix{
		netip.MustParsePrefix("::/3"), netip.MustParsePrefix("2000::/4"),
		netip.MustParsePrefix("3000::/4"), netip.MustParsePrefix("fc00::/7"),
	}
)

func (cfg *TunnelConfig) withDefaults() TunnelConfig {
	out := *cfg
	if out.ID == "" {
		out.ID = DefaultID
	}
	if out.Name == "" {
		out.Name = DefaultTUNName
	}
	if out.MTU == 0 {
		out.MTU = DefaultMTU
	}
	return out
}

// Validate checks the configuration and names the first wrong field.
func (cfg *TunnelConfig) Validate() error {
	c := cfg.withDefaults()
	if !validID(c.ID) {
		return fmt.Errorf("platform: tunnel config: ID %q: use letters, digits, '-', '_', '.'", c.ID)
	}
	if len(c.Name) > 15 {
		return fmt.Errorf("platform: tunnel config: Name %q: longer than 15 characters", c.Name)
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("platform: tunnel config: MTU %d: want 576..65535", c.MTU)
	}
	for i, a := range c.Addresses {
		if !a.Prefix.IsValid() {
			return fmt.Errorf("platform: tunnel config: Addresses[%d]: invalid prefix", i)
		}
		if a.Peer.IsValid() && a.Peer.Is4() != a.Prefix.Addr().Is4() {
			return fmt.Errorf("platform: tunnel config: Addresses[%d]: peer %s and address %s differ in family", i, a.Peer, a.Prefix)
		}
	}
	for i, r := range c.Routes {
		if !r.Dst.IsValid() {
			return fmt.Errorf("platform: tunnel config: Routes[%d]: invalid destination", i)
		}
		if r.Gateway.IsValid() && r.Gateway.Is4() != r.Dst.Addr().Is4() {
			return fmt.Errorf("platform: tunnel config: Routes[%d]: gateway %s and destination %s differ in family", i, r.Gateway, r.Dst)
		}
	}
	for i, p := range c.NetGatewayRoutes {
		if !p.IsValid() {
			return fmt.Errorf("platform: tunnel config: NetGatewayRoutes[%d]: invalid destination", i)
		}
	}
	for i, s := range c.Servers {
		if !s.IsValid() {
			return fmt.Errorf("platform: tunnel config: Servers[%d]: invalid address", i)
		}
	}
	if c.DNS != nil {
		for i, s := range c.DNS.Servers {
			if !s.IsValid() {
				return fmt.Errorf("platform: tunnel config: DNS.Servers[%d]: invalid address", i)
			}
		}
	}
	return nil
}

// tunnelRoutes returns the routes through the tunnel interface.
func (cfg *TunnelConfig) tunnelRoutes(name string, ifindex int) []routing.Route {
	var out []routing.Route
	seen := map[netip.Prefix]bool{}
	add := func(dst netip.Prefix, gw netip.Addr, metric uint32) {
		dst = dst.Masked()
		if seen[dst] {
			return
		}
		seen[dst] = true
		if metric == 0 {
			metric = cfg.Metric
		}
		r := routing.Route{
			Dst: dst, Gateway: gw, Interface: name, IfIndex: ifindex, Metric: metric,
			Table: routing.MainTable, Protocol: ProtoCVPN, Type: TypeUnicast, Scope: ScopeUniverse,
		}
		if !gw.IsValid() && !dst.Addr().Is6() {
			r.Scope = ScopeLink
		}
		out = append(out, r)
	}
	if cfg.RedirectIPv4 {
		for _, p := range redirect4 {
			add(p, netip.Addr{}, 0)
		}
	}
	if cfg.RedirectIPv6 {
		for _, p := range redirect6 {
			add(p, netip.Addr{}, 0)
		}
	}
	for _, r := range cfg.Routes {
		add(r.Dst, r.Gateway.Unmap(), r.Metric)
	}
	return out
}

// hopRoute is a route to dst through hop.
func hopRoute(dst netip.Prefix, hop Hop) routing.Route {
	r := routing.Route{
		Dst: dst.Masked(), Gateway: hop.Gateway, Interface: hop.Interface, IfIndex: hop.IfIndex,
		Table: routing.MainTable, Protocol: ProtoCVPN, Type: TypeUnicast, Scope: ScopeUniverse,
	}
	if !hop.Gateway.IsValid() && !dst.Addr().Is6() {
		r.Scope = ScopeLink
	}
	return r
}

// bypassRoutes returns host routes for servers that a tunnel route would
// capture, through the hop each is reached by now. lookup is RouteTo.
func bypassRoutes(servers []netip.Addr, tunnel []routing.Route, lookup func(netip.Addr) (Hop, error)) ([]routing.Route, error) {
	var out []routing.Route
	seen := map[netip.Addr]bool{}
	for _, s := range servers {
		s = s.Unmap()
		if seen[s] {
			continue
		}
		seen[s] = true
		covered := false
		for _, r := range tunnel {
			if r.Dst.Contains(s) {
				covered = true
				break
			}
		}
		if !covered {
			continue
		}
		hop, err := lookup(s)
		if err != nil {
			return nil, fmt.Errorf("platform: route to server %s: %w", s, err)
		}
		if hop.Local {
			// An address of this machine never leaves through a route.
			continue
		}
		// Also for an on-link server: a pushed route more specific than
		// the connected route (a /32 or /25 covering the server) would
		// otherwise send the tunnel's own packets into the tunnel.
		out = append(out, hopRoute(netip.PrefixFrom(s, s.BitLen()), hop))
	}
	return out, nil
}

// DefaultGateway returns the default route of the family with the lowest
// metric in the main table of r.
func DefaultGateway(r Routes, f Family) (Hop, error) {
	routes, err := r.List()
	if err != nil {
		return Hop{}, err
	}
	var best *routing.Route
	for i := range routes {
		rt := &routes[i]
		if !f.Matches(*rt) || rt.Dst.Bits() != 0 || (rt.Type != 0 && rt.Type != TypeUnicast) {
			continue
		}
		if !rt.Gateway.IsValid() && rt.Interface == "" && rt.IfIndex == 0 && len(rt.Hops) == 0 {
			continue
		}
		if best == nil || rt.Metric < best.Metric {
			best = rt
		}
	}
	if best == nil {
		return Hop{}, fmt.Errorf("platform: no %s default gateway: %w", f, ErrNotFound)
	}
	hop := Hop{Gateway: best.Gateway, Interface: best.Interface, IfIndex: best.IfIndex, Src: best.Src}
	if len(best.Hops) > 0 && !hop.Gateway.IsValid() {
		hop.Gateway, hop.Interface, hop.IfIndex = best.Hops[0].Gateway, best.Hops[0].Interface, best.Hops[0].IfIndex
	}
	return hop, nil
}

// netGatewayRoutes returns the net_gateway routes through the original
// default gateway of their family.
func netGatewayRoutes(r Routes, prefixes []netip.Prefix) ([]routing.Route, error) {
	var out []routing.Route
	hops := map[Family]Hop{}
	for _, p := range prefixes {
		f := FamilyV4
		if p.Addr().Is6() {
			f = FamilyV6
		}
		hop, ok := hops[f]
		if !ok {
			var err error
			hop, err = DefaultGateway(r, f)
			if err != nil {
				return nil, fmt.Errorf("platform: net_gateway route %s: %w", p, err)
			}
			hops[f] = hop
		}
		out = append(out, hopRoute(p, hop))
	}
	return out, nil
}

// Prepared is a TUN device created before the rest of its tunnel's
// configuration is known (Prepare). Apply takes it over through
// TunnelConfig.Prepared; Close removes it when no Apply did.
type Prepared struct {
	c    *Configurator
	id   string
	name string // the requested name or pattern, after defaults

	mu sync.Mutex
	a  *Applied // nil once Apply took it or Close removed it
}

// Prepare creates the TUN device of tunnel id (name and mtu as in
// TunnelConfig, empty or zero for the defaults) before the server has said
// how to configure it. Creating a device takes milliseconds (a Wintun
// adapter much longer) and needs nothing from the server, so the client
// does it while the handshake runs. The device is recorded in the state
// file as Apply records it, so Recover removes it after a crash.
func (c *Configurator) Prepare(id, name string, mtu int) (*Prepared, error) {
	cfg := TunnelConfig{ID: id, Name: name, MTU: mtu}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a, err := c.begin(cfg.ID)
	if err != nil {
		return nil, err
	}
	if err := a.createTUN(cfg.Name, cfg.MTU); err != nil {
		if uerr := a.Close(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
		}
		return nil, err
	}
	return &Prepared{c: c, id: cfg.ID, name: cfg.Name, a: a}, nil
}

// Name returns the TUN interface name ("" after Close).
func (p *Prepared) Name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.a == nil {
		return ""
	}
	return p.a.Name
}

// take hands the prepared tunnel over once.
func (p *Prepared) take() *Applied {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.a
	p.a = nil
	return a
}

// Close removes the device and its state file unless Apply took it over;
// it is safe to call more than once and after Apply.
func (p *Prepared) Close() error {
	if a := p.take(); a != nil {
		return a.Close()
	}
	return nil
}

// begin starts the record of tunnel id: it refuses when a state file of
// that id exists and writes a first one naming this process.
func (c *Configurator) begin(id string) (*Applied, error) {
	if err := c.stateDir(); err != nil {
		return nil, err
	}
	a := &Applied{c: c, statePath: StatePath(c.StateDir, id)}
	if _, err := os.Stat(a.statePath); err == nil {
		return nil, fmt.Errorf("platform: state file %s exists: a tunnel %q is active or was not cleaned up; run Recover first", a.statePath, id)
	}
	a.state = State{Version: stateVersion, ID: id, PID: os.Getpid()}
	if err := a.save(); err != nil {
		return nil, err
	}
	return a, nil
}

// stateDir makes sure the state directory is given and exists.
func (c *Configurator) stateDir() error {
	if c.StateDir == "" {
		return errors.New("platform: no state directory given")
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return fmt.Errorf("platform: state directory: %w", err)
	}
	return nil
}

// createTUN creates the device and records it.
func (a *Applied) createTUN(name string, mtu int) error {
	dev, got, err := a.c.Sys.CreateTUN(name, mtu)
	if err != nil {
		return fmt.Errorf("platform: create TUN %q: %w", name, err)
	}
	a.Device, a.Name = dev, got
	a.state.TUN = got
	return a.save()
}

// Apply configures the tunnel: it looks up the original gateways, creates
// the TUN device (or takes over cfg.Prepared) with its addresses and MTU,
// adds bypass, net_gateway and tunnel routes, then DNS. Each change outside
// the TUN device is recorded in the state file first. On error everything
// done so far is undone, a prepared device included.
func (c *Configurator) Apply(cfg TunnelConfig) (*Applied, error) {
	var a *Applied
	fail := func(err error) (*Applied, error) {
		if a != nil {
			if uerr := a.Close(); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo: %w", uerr))
			}
		}
		return nil, err
	}
	if p := cfg.Prepared; p != nil {
		a = p.take()
		if a == nil {
			return nil, errors.New("platform: the prepared TUN device was already used or closed")
		}
		want := cfg.withDefaults()
		if p.c != c || p.id != want.ID || p.name != want.Name {
			return fail(fmt.Errorf("platform: the prepared TUN device (tunnel %q, name %q) does not match the configuration (tunnel %q, name %q)", p.id, p.name, want.ID, want.Name))
		}
	}
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	cfg = cfg.withDefaults()
	log := c.logger()
	if err := c.stateDir(); err != nil {
		return fail(err)
	}

	// Look everything up before the first change to the routing table:
	// afterwards the tunnel routes would answer instead of the original
	// gateways. A prepared device without addresses changes nothing here.
	probe := cfg.tunnelRoutes("", 0)
	bypass, err := bypassRoutes(cfg.Servers, probe, c.Sys.RouteTo)
	if err != nil {
		return fail(err)
	}
	netgw, err := netGatewayRoutes(c.Sys, cfg.NetGatewayRoutes)
	if err != nil {
		return fail(err)
	}

	if a == nil {
		if a, err = c.begin(cfg.ID); err != nil {
			return nil, err
		}
		if err := a.createTUN(cfg.Name, cfg.MTU); err != nil {
			return fail(err)
		}
	}
	name := a.Name
	ifindex, err := c.Sys.ConfigureInterface(name, cfg.Addresses, cfg.MTU)
	if err != nil {
		return fail(fmt.Errorf("platform: configure %s: %w", name, err))
	}
	a.IfIndex = ifindex
	log.Info("tunnel interface up", "interface", name, "mtu", cfg.MTU, "addresses", len(cfg.Addresses))

	all := append(append(bypass, netgw...), cfg.tunnelRoutes(name, ifindex)...)
	for _, r := range all {
		a.state.Routes = append(a.state.Routes, r)
		if err := a.save(); err != nil {
			return fail(err)
		}
		err := c.Sys.Add(r)
		if errors.Is(err, ErrExists) {
			// Someone else's identical route: not ours to delete later.
			log.Warn("route already present, leaving it as it is", "route", RouteString(r))
			a.state.Routes = a.state.Routes[:len(a.state.Routes)-1]
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("platform: add route %s: %w", RouteString(r), err))
		}
		log.Debug("route added", "route", RouteString(r))
	}

	if cfg.DNS != nil && len(cfg.DNS.Servers) > 0 {
		err := c.Sys.DNS().Apply(name, ifindex, *cfg.DNS, func(rec DNSRecord) error {
			a.state.DNS = &rec
			return a.save()
		})
		if err != nil {
			return fail(fmt.Errorf("platform: DNS on %s: %w", name, err))
		}
		log.Info("DNS configured", "interface", name, "backend", a.state.DNS.Backend, "servers", len(cfg.DNS.Servers))
	}
	return a, nil
}

func (a *Applied) save() error { return writeState(a.statePath, &a.state) }

// Routes returns the routes this tunnel added, in order.
func (a *Applied) Routes() []routing.Route {
	return append([]routing.Route(nil), a.state.Routes...)
}

// Close undoes everything in reverse order (DNS, routes, TUN device) and
// removes the state file. It is safe to call more than once. When a step
// fails the state file is kept so Recover can retry.
func (a *Applied) Close() error {
	a.closeOnce.Do(func() {
		a.closeErr = a.c.undo(&a.state, a.Device)
		if a.closeErr == nil {
			if err := os.Remove(a.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
				a.closeErr = fmt.Errorf("platform: remove state: %w", err)
			}
		} else {
			// Record what is left for Recover.
			if err := a.save(); err != nil {
				a.closeErr = errors.Join(a.closeErr, err)
			}
		}
	})
	return a.closeErr
}

// undo reverts s; dev is the open TUN device (nil after a crash). On return
// s holds only what could not be undone.
func (c *Configurator) undo(s *State, dev tun.Device) error {
	log := c.logger()
	var errs []error
	if s.DNS != nil {
		if err := c.Sys.DNS().Revert(*s.DNS); err != nil {
			errs = append(errs, fmt.Errorf("platform: revert DNS (%s): %w", s.DNS.Backend, err))
		} else {
			s.DNS = nil
		}
	}
	var left []routing.Route
	for i := len(s.Routes) - 1; i >= 0; i-- {
		r := s.Routes[i]
		err := c.Sys.Delete(r)
		switch {
		case err == nil:
			log.Debug("route deleted", "route", RouteString(r))
		case errors.Is(err, ErrNotFound):
			// Gone with its interface, or removed by someone else.
		default:
			errs = append(errs, fmt.Errorf("platform: delete route %s: %w", RouteString(r), err))
			left = append([]routing.Route{r}, left...)
		}
	}
	s.Routes = left
	if dev != nil {
		if err := dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("platform: close TUN %s: %w", s.TUN, err))
		}
	}
	if s.TUN != "" {
		// Closing the device removes a non-persistent TUN; delete it
		// explicitly when a crashed process left it.
		if err := c.Sys.DeleteTUN(s.TUN); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("platform: delete TUN %s: %w", s.TUN, err))
		} else {
			s.TUN = ""
		}
	}
	return errors.Join(errs...)
}

// Recover undoes what the state files in StateDir record, for tunnels
// whose process is gone (after a crash or kill -9) or is this process. It
// deletes each state file it fully undid and returns the errors of the rest.
func (c *Configurator) Recover() error {
	log := c.logger()
	files, err := stateFiles(c.StateDir)
	if err != nil {
		return err
	}
	alive := c.ProcessAlive
	if alive == nil {
		alive = processAlive
	}
	var errs []error
	for _, path := range files {
		s, err := readState(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.PID != os.Getpid() && s.PID > 0 && alive(s.PID) {
			log.Warn("state file belongs to a running process; leaving it", "file", path, "pid", s.PID)
			continue
		}
		log.Info("recovering from unclean shutdown", "file", path, "tun", s.TUN, "routes", len(s.Routes), "dns", s.DNS != nil)
		if err := c.undo(s, nil); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			if werr := writeState(path, s); werr != nil {
				errs = append(errs, werr)
			}
			continue
		}
		if err := os.Remove(path); err != nil {
			errs = append(errs, fmt.Errorf("platform: remove state: %w", err))
		}
	}
	return errors.Join(errs...)
}

// RouteString formats a route like `ip route` does, for logs and errors.
func RouteString(r routing.Route) string {
	s := r.Dst.String()
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	if r.Interface != "" {
		s += " dev " + r.Interface
	} else if r.IfIndex != 0 {
		s += fmt.Sprintf(" ifindex %d", r.IfIndex)
	}
	for _, h := range r.Hops {
		s += " nexthop"
		if h.Gateway.IsValid() {
			s += " via " + h.Gateway.String()
		}
		if h.Interface != "" {
			s += " dev " + h.Interface
		}
	}
	if r.Table != 0 && r.Table != routing.MainTable {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	if r.Protocol != 0 {
		s += fmt.Sprintf(" proto %d", r.Protocol)
	}
	if r.Metric != 0 {
		s += fmt.Sprintf(" metric %d", r.Metric)
	}
	return s
}
