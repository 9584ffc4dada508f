package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/cvpn/cvpn/routing"
)

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

	// What Apply (or the last Update) configured, for Update.
	mtu      int
	addrs    []Address
	dns      *DNSConfig
	leaveDNS bool
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
	a.mtu, a.addrs, a.leaveDNS = cfg.MTU, slices.Clone(cfg.Addresses), cfg.LeaveDNS
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
		if err != nil && cfg.optionalRoute(r) {
			log.Warn("block-ipv6: cannot route IPv6 into the tunnel; leaving it", "route", RouteString(r), "err", err)
			a.state.Routes = a.state.Routes[:len(a.state.Routes)-1]
			continue
		}
		if err != nil {
			return fail(fmt.Errorf("platform: add route %s: %w", RouteString(r), err))
		}
		log.Debug("route added", "route", RouteString(r))
	}

	if cfg.DNS != nil && len(cfg.DNS.Servers) > 0 && !cfg.LeaveDNS {
		err := c.Sys.DNS().Apply(name, ifindex, *cfg.DNS, func(rec DNSRecord) error {
			a.state.DNS = &rec
			return a.save()
		})
		if err != nil {
			return fail(fmt.Errorf("platform: DNS on %s: %w", name, err))
		}
		log.Info("DNS configured", "interface", name, "backend", a.state.DNS.Backend, "servers", len(cfg.DNS.Servers))
		a.dns = cloneDNS(cfg.DNS)
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
