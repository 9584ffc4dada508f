package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/cvpn/cvpn/platform/darwin/scutil"
)

// BackendScutil names the macOS DNS backend in DNSRecord.Backend.
const BackendScutil = "scutil"

// ScutilDNS is the macOS DNS backend: it writes DNS dictionaries to the
// SystemConfiguration dynamic store through scutil(8).
//
// Split DNS (search domains and no full tunnel) adds a service key
// State:/Network/Service/cvpn-<ifname>/DNS whose SupplementalMatchDomains
// send those domains to the tunnel's servers. Full DNS (FullTunnel, or no
// domains to split on) also replaces the DNS dictionary of the primary
// service, after recording it, so the tunnel's servers become the default
// resolver; Revert puts the recorded dictionary back unless someone (DHCP,
// configd) has replaced cvpn's in the meantime.
type ScutilDNS struct {
	// Run runs scutil with script on its standard input and returns what
	// it printed. On macOS it runs /usr/sbin/scutil; tests fake it.
	Run    func(script string) (string, error)
	Logger *slog.Logger
}

func (d ScutilDNS) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// show returns the dictionary of key; missing is true when there is none.
func (d ScutilDNS) show(key string) (dict scutil.Dict, missing bool, err error) {
	script, err := scutil.ShowScript(key)
	if err != nil {
		return scutil.Dict{}, false, err
	}
	out, err := d.Run(script)
	if err != nil {
		return scutil.Dict{}, false, fmt.Errorf("scutil show %s: %w", key, err)
	}
	dict, err = scutil.Parse(out)
	if errors.Is(err, scutil.ErrNoKey) {
		return scutil.Dict{}, true, nil
	}
	if err != nil {
		return scutil.Dict{}, false, fmt.Errorf("show %s: %w", key, err)
	}
	return dict, false, nil
}

// change runs a set or remove script; scutil reports failures (such as
// "permission denied") on its output, so any output is an error.
func (d ScutilDNS) change(key, script string) error {
	out, err := d.Run(script)
	if err != nil {
		return fmt.Errorf("scutil %s: %w", key, err)
	}
	if s := strings.TrimSpace(out); s != "" {
		return fmt.Errorf("scutil %s: %s", key, s)
	}
	return nil
}

func (d ScutilDNS) set(key string, dict scutil.Dict) error {
	script, err := scutil.SetScript(key, dict)
	if err != nil {
		return err
	}
	return d.change(key, script)
}

func (d ScutilDNS) remove(key string) error {
	script, err := scutil.RemoveScript(key)
	if err != nil {
		return err
	}
	return d.change(key, script)
}

// OwnDNSKey is the dynamic store key of a tunnel interface's DNS.
func OwnDNSKey(ifname string) string { return scutil.DNSKey("cvpn-" + ifname) }

// Apply implements DNS.
func (d ScutilDNS) Apply(ifname string, ifindex int, cfg DNSConfig, save func(DNSRecord) error) error {
	if len(cfg.Servers) == 0 {
		return errors.New("scutil DNS: no servers")
	}
	split := !cfg.FullTunnel && len(cfg.SplitDomains()) > 0
	rec := DNSRecord{Backend: BackendScutil, Interface: ifname, IfIndex: ifindex}
	for _, s := range cfg.Servers {
		rec.Servers = append(rec.Servers, s.Unmap().String())
	}
	own := OwnDNSKey(ifname)
	rec.Keys = append(rec.Keys, SavedKey{Key: own, Missing: true})
	var primary string
	if !split {
		global, missing, err := d.show(scutil.GlobalIPv4)
		if err != nil {
			return err
		}
		if missing {
			return fmt.Errorf("scutil DNS: %s missing: no primary network service", scutil.GlobalIPv4)
		}
		id, err := scutil.PrimaryService(global)
		if err != nil {
			return err
		}
		primary = scutil.DNSKey(id)
		orig, missing, err := d.show(primary)
		if err != nil {
			return err
		}
		rec.Keys = append(rec.Keys, SavedKey{Key: primary, Missing: missing, Scalars: orig.Scalars, Arrays: orig.Arrays})
	}
	if err := save(rec); err != nil {
		return err
	}
	var match []string
	if split {
		match = cfg.SplitDomains()
	}
	servers := make([]netip.Addr, len(cfg.Servers))
	for i, s := range cfg.Servers {
		servers[i] = s.Unmap()
	}
	if err := d.set(own, scutil.DNSDict(servers, cfg.SearchDomains, match)); err != nil {
		return err
	}
	if primary != "" {
		if err := d.set(primary, scutil.DNSDict(servers, cfg.SearchDomains, nil)); err != nil {
			return err
		}
	}
	d.logger().Debug("DNS set in the dynamic store", "key", own, "primary", primary, "split", split)
	return nil
}

// Revert implements DNS.
func (d ScutilDNS) Revert(rec DNSRecord) error {
	var errs []error
	for i := len(rec.Keys) - 1; i >= 0; i-- {
		k := rec.Keys[i]
		if k.Missing {
			if err := d.remove(k.Key); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		cur, missing, err := d.show(k.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if missing || !slices.Equal(cur.Arrays["ServerAddresses"], rec.Servers) {
			d.logger().Info("DNS entry changed by someone else since cvpn set it; leaving it", "key", k.Key)
			continue
		}
		if err := d.set(k.Key, scutil.Dict{Scalars: k.Scalars, Arrays: k.Arrays}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
