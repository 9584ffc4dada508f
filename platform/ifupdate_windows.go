package platform

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/windows/winroute"
)

var _ InterfaceUpdater = (*windowsHost)(nil)

func luidByName(name string) (winipcfg.LUID, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	luid, err := winipcfg.LUIDFromIndex(uint32(ifi.Index))
	if err != nil {
		return 0, fmt.Errorf("interface %s: LUID: %w", name, err)
	}
	return luid, nil
}

// SetMTU implements InterfaceUpdater: NlMtu of the interface's IPv4 and
// IPv6 rows (SetIpInterfaceEntry); a family the adapter lacks is skipped.
func (h *windowsHost) SetMTU(name string, mtu int) error {
	luid, err := luidByName(name)
	if err != nil {
		return err
	}
	set := 0
	for _, fam := range []winipcfg.AddressFamily{windows.AF_INET, windows.AF_INET6} {
		row, err := luid.IPInterface(fam)
		if err != nil {
			continue
		}
		row.NLMTU = uint32(mtu)
		if err := row.Set(); err != nil {
			return fmt.Errorf("interface %s: MTU %d: %w", name, mtu, err)
		}
		set++
	}
	if set == 0 {
		return fmt.Errorf("interface %s: no IP interface to set MTU %d on", name, mtu)
	}
	return nil
}

// ReplaceAddresses implements InterfaceUpdater: the adapter's unicast
// addresses become new (SetIPAddresses flushes them and adds the list).
func (h *windowsHost) ReplaceAddresses(name string, old, new []Address) error {
	luid, err := luidByName(name)
	if err != nil {
		return err
	}
	var prefixes []netip.Prefix
	for _, a := range new {
		prefixes = append(prefixes, winroute.InterfacePrefix(a.Prefix, a.Peer))
	}
	if err := luid.SetIPAddresses(prefixes); err != nil {
		return fmt.Errorf("interface %s: addresses %v: %w", name, prefixes, err)
	}
	return nil
}
