package platform

import (
	"fmt"
	"slices"
)

// DNSUpdater is implemented by DNS backends that can change the DNS of a
// live tunnel in place, keeping the original settings rec saved. Backends
// without it are reverted and applied again (the original is saved anew by
// Apply, right after Revert put it back).
type DNSUpdater interface {
	Update(rec DNSRecord, cfg DNSConfig, save func(DNSRecord) error) error
}

// DNSRefresher is implemented by DNS backends whose settings other
// programs may overwrite while the tunnel is up (resolv.conf: a DHCP
// client after a move to another network). Refresh takes what another
// program wrote since rec as the new original and puts cfg back; it
// returns false when nothing had changed.
type DNSRefresher interface {
	Refresh(rec DNSRecord, cfg DNSConfig, save func(DNSRecord) error) (bool, error)
}

func cloneDNS(c *DNSConfig) *DNSConfig {
	if c == nil {
		return nil
	}
	out := *c
	out.Servers = slices.Clone(c.Servers)
	out.SearchDomains = slices.Clone(c.SearchDomains)
	out.RoutingDomains = slices.Clone(c.RoutingDomains)
	return &out
}

func sameDNS(x, y *DNSConfig) bool {
	if x == nil || y == nil {
		return x == y
	}
	return slices.Equal(x.Servers, y.Servers) && slices.Equal(x.SearchDomains, y.SearchDomains) &&
		slices.Equal(x.RoutingDomains, y.RoutingDomains) && x.FullTunnel == y.FullTunnel &&
		x.BlockOutsideDNS == y.BlockOutsideDNS
}

// updateDNS brings the tunnel's DNS to cfg (nil or without servers: the
// original DNS); it reports whether anything changed.
func (a *Applied) updateDNS(cfg *DNSConfig) (bool, error) {
	if a.leaveDNS {
		return false, nil
	}
	if cfg != nil && len(cfg.Servers) == 0 {
		cfg = nil
	}
	if sameDNS(cfg, a.dns) {
		return false, nil
	}
	dns := a.c.Sys.DNS()
	log := a.c.logger()
	save := func(rec DNSRecord) error {
		a.state.DNS = &rec
		return a.save()
	}
	if a.state.DNS != nil {
		if u, ok := dns.(DNSUpdater); ok && cfg != nil {
			if err := u.Update(*a.state.DNS, *cfg, save); err != nil {
				return false, fmt.Errorf("platform: DNS update on %s: %w", a.Name, err)
			}
			a.dns = cloneDNS(cfg)
			log.Info("DNS changed by update", "interface", a.Name, "backend", a.state.DNS.Backend, "servers", len(cfg.Servers))
			return true, nil
		}
		if err := dns.Revert(*a.state.DNS); err != nil {
			return false, fmt.Errorf("platform: revert DNS (%s) on %s for the update: %w", a.state.DNS.Backend, a.Name, err)
		}
		a.state.DNS, a.dns = nil, nil
		if err := a.save(); err != nil {
			return true, err
		}
	}
	if cfg == nil {
		log.Info("DNS restored by update", "interface", a.Name)
		return true, nil
	}
	if err := dns.Apply(a.Name, a.IfIndex, *cfg, save); err != nil {
		return true, fmt.Errorf("platform: DNS on %s: %w", a.Name, err)
	}
	a.dns = cloneDNS(cfg)
	log.Info("DNS changed by update", "interface", a.Name, "backend", a.state.DNS.Backend, "servers", len(cfg.Servers))
	return true, nil
}

// RefreshDNS puts the tunnel's DNS back where another program overwrote
// it since (resolv.conf rewritten by a DHCP client after a move to
// another network), taking that program's settings as the new original
// that Close restores. Backends that keep per-interface settings
// (systemd-resolved, scutil's service keys, NRPT rules) need nothing and
// report false.
func (a *Applied) RefreshDNS() (bool, error) {
	if a.state.DNS == nil || a.dns == nil {
		return false, nil
	}
	r, ok := a.c.Sys.DNS().(DNSRefresher)
	if !ok {
		return false, nil
	}
	changed, err := r.Refresh(*a.state.DNS, *a.dns, func(rec DNSRecord) error {
		a.state.DNS = &rec
		return a.save()
	})
	if err != nil {
		return changed, fmt.Errorf("platform: DNS refresh on %s: %w", a.Name, err)
	}
	if changed {
		a.c.logger().Info("DNS settings rewritten by another program: took them as the new original and put the tunnel's back", "interface", a.Name, "backend", a.state.DNS.Backend)
	}
	return changed, nil
}
