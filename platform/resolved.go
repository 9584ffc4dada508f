package platform

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// ResolvedBus is the D-Bus side of systemd-resolved: the Linux
// implementation talks to org.freedesktop.resolve1 on the system bus; tests
// record the calls.
type ResolvedBus interface {
	// Running reports whether org.freedesktop.resolve1 has an owner.
	Running() bool
	// Call calls method of org.freedesktop.resolve1.Manager on
	// /org/freedesktop/resolve1. A NoSuchLink error wraps ErrNotFound.
	Call(method string, args ...any) error
}

// ResolvedAddress is the D-Bus (iay) of SetLinkDNS: address family
// (AF_INET 2, AF_INET6 10) and the address bytes.
type ResolvedAddress struct {
	Family  int32
	Address []byte
}

// ResolvedDomain is the D-Bus (sb) of SetLinkDomains: a domain and whether
// it only routes queries ("~domain") instead of also being a search domain.
type ResolvedDomain struct {
	Domain      string
	RoutingOnly bool
}

// Resolved is the DNS backend for systemd-resolved: per-link DNS servers,
// search domains, "~." and DefaultRoute for a full tunnel, RevertLink on
// teardown. resolved also forgets a link's settings when the link goes
// away, which covers a crash.
type Resolved struct {
	Bus ResolvedBus
}

// Apply sets the link's DNS servers and domains. Full tunnel: the search
// domains plus the routing domain "~." and DefaultRoute=yes, so every query
// goes to the tunnel. Split tunnel: the search domains and the routing
// domains ("~domain", the dns option's resolve-domains) route their names
// to the tunnel; DefaultRoute is yes only when there are no domains
// (otherwise the servers would never be asked).
func (r Resolved) Apply(ifname string, ifindex int, cfg DNSConfig, save func(DNSRecord) error) error {
	if ifindex <= 0 {
		return fmt.Errorf("systemd-resolved: interface %s has no index", ifname)
	}
	addrs := make([]ResolvedAddress, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		s = s.Unmap()
		if s.Is4() {
			b := s.As4()
			addrs = append(addrs, ResolvedAddress{Family: 2, Address: b[:]})
		} else {
			b := s.As16()
			addrs = append(addrs, ResolvedAddress{Family: 10, Address: b[:]})
		}
	}
	var domains []ResolvedDomain
	for _, d := range cfg.SearchDomains {
		d = strings.TrimSuffix(d, ".")
		if d != "" {
			domains = append(domains, ResolvedDomain{Domain: d})
		}
	}
	for _, d := range cfg.RoutingDomains {
		d = strings.TrimSuffix(d, ".")
		if d != "" {
			domains = append(domains, ResolvedDomain{Domain: d, RoutingOnly: true})
		}
	}
	if cfg.FullTunnel {
		domains = append(domains, ResolvedDomain{Domain: ".", RoutingOnly: true})
	}
	defaultRoute := cfg.FullTunnel || len(cfg.SplitDomains()) == 0
	if err := save(DNSRecord{Backend: BackendResolved, Interface: ifname, IfIndex: ifindex}); err != nil {
		return err
	}
	idx := int32(ifindex)
	steps := []struct {
		method string
		args   []any
	}{
		{"SetLinkDNS", []any{idx, addrs}},
		{"SetLinkDomains", []any{idx, domains}},
		{"SetLinkDefaultRoute", []any{idx, defaultRoute}},
	}
	for _, s := range steps {
		if err := r.Bus.Call(s.method, s.args...); err != nil {
			err = fmt.Errorf("systemd-resolved %s on %s: %w", s.method, ifname, err)
			if rerr := r.Bus.Call("RevertLink", idx); rerr != nil && !errors.Is(rerr, ErrNotFound) {
				err = errors.Join(err, fmt.Errorf("systemd-resolved RevertLink on %s: %w", ifname, rerr))
			}
			return err
		}
	}
	return nil
}

// Revert drops every setting of the link; a link resolved no longer knows
// (it went away with the TUN device) counts as reverted.
func (r Resolved) Revert(rec DNSRecord) error {
	err := r.Bus.Call("RevertLink", int32(rec.IfIndex))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("systemd-resolved RevertLink on %s: %w", rec.Interface, err)
	}
	return nil
}

// AutoDNS picks systemd-resolved when it runs (its bus name has an owner
// AND resolv.conf points to its stub) and the resolv.conf backend
// otherwise. Revert follows the backend recorded.
type AutoDNS struct {
	// ResolvConfPath, DefaultResolvConf when empty.
	ResolvConfPath string
	// Bus is nil when there is no system bus.
	Bus    ResolvedBus
	Logger *slog.Logger
}

func (d AutoDNS) resolvConf() ResolvConf {
	return ResolvConf{Path: d.ResolvConfPath, Logger: d.Logger}
}

// UsesResolved reports whether Apply would use systemd-resolved now.
func (d AutoDNS) UsesResolved() bool {
	return d.Bus != nil && d.Bus.Running() && pointsToResolvedStub(d.resolvConf().path())
}

// Apply implements DNS.
func (d AutoDNS) Apply(ifname string, ifindex int, cfg DNSConfig, save func(DNSRecord) error) error {
	if d.UsesResolved() {
		return Resolved{Bus: d.Bus}.Apply(ifname, ifindex, cfg, save)
	}
	return d.resolvConf().Apply(ifname, ifindex, cfg, save)
}

// Revert implements DNS.
func (d AutoDNS) Revert(rec DNSRecord) error {
	switch rec.Backend {
	case BackendResolved:
		if d.Bus == nil {
			return errors.New("systemd-resolved record but no system bus")
		}
		return Resolved{Bus: d.Bus}.Revert(rec)
	case BackendResolvConf:
		return d.resolvConf().Revert(rec)
	default:
		return fmt.Errorf("unknown DNS backend %q in record", rec.Backend)
	}
}

// pointsToResolvedStub reports whether the resolv.conf at path is
// systemd-resolved's: a symlink into /run/systemd/resolve/ or a file whose
// nameserver is the stub 127.0.0.53.
func pointsToResolvedStub(path string) bool {
	if target, err := os.Readlink(path); err == nil && strings.Contains(target, "systemd/resolve/") {
		return true
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" && (f[1] == "127.0.0.53" || f[1] == "127.0.0.54") {
			return true
		}
	}
	return false
}

// Update sets the link's settings anew; systemd-resolved replaces them as
// a whole and RevertLink still drops them at the end.
func (r Resolved) Update(rec DNSRecord, cfg DNSConfig, save func(DNSRecord) error) error {
	return r.Apply(rec.Interface, rec.IfIndex, cfg, save)
}

// Update implements DNSUpdater for the backend rec names.
func (d AutoDNS) Update(rec DNSRecord, cfg DNSConfig, save func(DNSRecord) error) error {
	switch rec.Backend {
	case BackendResolved:
		if d.Bus == nil {
			return errors.New("systemd-resolved record but no system bus")
		}
		return Resolved{Bus: d.Bus}.Update(rec, cfg, save)
	case BackendResolvConf:
		return d.resolvConf().Update(rec, cfg, save)
	default:
		return fmt.Errorf("unknown DNS backend %q in record", rec.Backend)
	}
}

// Refresh implements DNSRefresher: resolv.conf is put back after another
// program rewrote it; systemd-resolved keeps per-link settings through
// network moves and needs nothing (it also restores the other links' DNS
// by itself when cvpn's link goes).
func (d AutoDNS) Refresh(rec DNSRecord, cfg DNSConfig, save func(DNSRecord) error) (bool, error) {
	if rec.Backend != BackendResolvConf {
		return false, nil
	}
	return d.resolvConf().Refresh(rec, cfg, save)
}
