package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/killswitch"
	"github.com/cvpn/cvpn/platform/windows/nrpt"
)

// BackendNRPT names the Windows DNS backend in DNSRecord.Backend.
const BackendNRPT = "nrpt"

// nrptDNS is the Windows DNS backend. An NRPT rule sends the search
// domains (split DNS) or every name (full tunnel, or no domains) to the
// tunnel's servers; for a full tunnel the servers and domains are also set
// on the tunnel interface (they vanish with it). Revert deletes the rule.
// block-outside-dns (cfg.BlockOutsideDNS) adds WFP filters that block DNS
// outside the tunnel (killswitch.DNSBlock, one per tunnel interface);
// Revert removes them, and Windows does when cvpn ends.
type nrptDNS struct {
	log *slog.Logger

	mu     sync.Mutex
	blocks map[string]*killswitch.DNSBlock // by tunnel interface
}

// blockOutside installs (on) or removes block-outside-dns for ifname.
func (d *nrptDNS) blockOutside(ifname string, on bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.blocks[ifname]
	if !on {
		if b == nil {
			return nil
		}
		delete(d.blocks, ifname)
		_, err := b.Close()
		return err
	}
	if b == nil {
		b = &killswitch.DNSBlock{Log: d.log}
		if d.blocks == nil {
			d.blocks = map[string]*killswitch.DNSBlock{}
		}
		d.blocks[ifname] = b
	}
	if err := b.Set(ifname); err != nil {
		return fmt.Errorf("interface %s: %w", ifname, err)
	}
	d.log.Info("block-outside-dns: DNS leaves only through the tunnel", "interface", ifname)
	return nil
}

var dnsFlushResolverCache = windows.NewLazySystemDLL("dnsapi.dll").NewProc("DnsFlushResolverCache")

// flushDNS empties the resolver cache so the new rules apply at once.
func (d *nrptDNS) flushDNS() {
	if err := dnsFlushResolverCache.Find(); err != nil {
		return
	}
	if r, _, _ := dnsFlushResolverCache.Call(); r == 0 {
		d.log.Debug("DnsFlushResolverCache failed")
	}
}

func (d *nrptDNS) Apply(ifname string, ifindex int, cfg DNSConfig, save func(DNSRecord) error) error {
	all := cfg.FullTunnel || len(cfg.SplitDomains()) == 0
	rule, err := nrpt.ForTunnel(ifname, cfg.Servers, cfg.SplitDomains(), all)
	if err != nil {
		return err
	}
	if k, err := registry.OpenKey(registry.LOCAL_MACHINE, nrpt.GPOPolicyKey, registry.ENUMERATE_SUB_KEYS); err == nil {
		if names, _ := k.ReadSubKeyNames(1); len(names) > 0 {
			d.log.Warn("group policy NRPT rules exist; Windows ignores cvpn's local NRPT rule", "key", `HKLM\`+nrpt.GPOPolicyKey)
		}
		k.Close()
	}
	rec := DNSRecord{Backend: BackendNRPT, Interface: ifname, IfIndex: ifindex, Keys: []SavedKey{{Key: rule.Key, Missing: true}}}
	for _, s := range cfg.Servers {
		rec.Servers = append(rec.Servers, s.Unmap().String())
	}
	if err := save(rec); err != nil {
		return err
	}
	if err := writeRule(rule); err != nil {
		return err
	}
	if cfg.FullTunnel {
		luid, err := winipcfg.LUIDFromIndex(uint32(ifindex))
		if err != nil {
			return fmt.Errorf("interface %s: %w", ifname, err)
		}
		servers := make([]netip.Addr, len(cfg.Servers))
		for i, s := range cfg.Servers {
			servers[i] = s.Unmap()
		}
		for _, fam := range []winipcfg.AddressFamily{windows.AF_INET, windows.AF_INET6} {
			if err := luid.SetDNS(fam, servers, cfg.SearchDomains); err != nil {
				return fmt.Errorf("interface %s: DNS: %w", ifname, err)
			}
		}
	}
	if err := d.blockOutside(ifname, cfg.BlockOutsideDNS); err != nil {
		return err
	}
	d.flushDNS()
	return nil
}

func writeRule(rule nrpt.Rule) error {
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, rule.Key, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf(`NRPT key HKLM\%s: %w`, rule.Key, err)
	}
	defer k.Close()
	for _, v := range rule.Values {
		switch v.Kind {
		case nrpt.String:
			err = k.SetStringValue(v.Name, v.String)
		case nrpt.MultiString:
			err = k.SetStringsValue(v.Name, v.Strings)
		case nrpt.DWord:
			err = k.SetDWordValue(v.Name, v.DWord)
		default:
			err = fmt.Errorf("unknown value kind %d", v.Kind)
		}
		if err != nil {
			return fmt.Errorf(`NRPT key HKLM\%s value %s: %w`, rule.Key, v.Name, err)
		}
	}
	return nil
}

func (d *nrptDNS) Revert(rec DNSRecord) error {
	var errs []error
	if err := d.blockOutside(rec.Interface, false); err != nil {
		errs = append(errs, fmt.Errorf("block-outside-dns: %w", err))
	}
	for i := len(rec.Keys) - 1; i >= 0; i-- {
		k := rec.Keys[i]
		if !k.Missing {
			continue // the NRPT backend only creates keys
		}
		if err := registry.DeleteKey(registry.LOCAL_MACHINE, k.Key); err != nil && !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
			errs = append(errs, fmt.Errorf(`NRPT key HKLM\%s: %w`, k.Key, err))
		}
	}
	if rec.Interface != "" {
		// The interface DNS of a full tunnel goes with the adapter; clear it
		// if the adapter is still there.
		if ifi, err := net.InterfaceByName(rec.Interface); err == nil {
			if luid, err := winipcfg.LUIDFromIndex(uint32(ifi.Index)); err == nil {
				_ = luid.FlushDNS(windows.AF_INET)
				_ = luid.FlushDNS(windows.AF_INET6)
			}
		}
	}
	d.flushDNS()
	return errors.Join(errs...)
}
