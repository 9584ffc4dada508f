package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var _ InterfaceUpdater = (*linuxHost)(nil)

// SetMTU implements InterfaceUpdater (RTM_NEWLINK with IFLA_MTU).
func (l *linuxHost) SetMTU(name string, mtu int) error {
	link, err := l.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	if err := l.h.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("interface %s: MTU %d: %w", name, mtu, err)
	}
	return nil
}

// ReplaceAddresses implements InterfaceUpdater (RTM_DELADDR, then
// RTM_NEWADDR; adding first would make a new address of the same subnet a
// secondary that goes with the old primary). The kernel deletes the IPv4
// routes through a device that loses its last IPv4 address: Update adds
// the tunnel's routes again afterwards.
func (l *linuxHost) ReplaceAddresses(name string, old, new []Address) error {
	link, err := l.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	for _, a := range old {
		if slices.Contains(new, a) {
			continue
		}
		if err := l.h.AddrDel(link, linuxAddr(a)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("interface %s: remove address %s: %w", name, a.Prefix, err)
		}
	}
	for _, a := range new {
		if slices.Contains(old, a) {
			continue
		}
		if err := l.h.AddrAdd(link, linuxAddr(a)); err != nil {
			return fmt.Errorf("interface %s: address %s: %w", name, a.Prefix, err)
		}
	}
	return nil
}

// linuxAddr is a as netlink adds it.
func linuxAddr(a Address) *netlink.Addr {
	na := &netlink.Addr{IPNet: prefixToIPNet(a.Prefix)}
	if a.Peer.IsValid() {
		na.Peer = prefixToIPNet(netip.PrefixFrom(a.Peer, a.Peer.BitLen()))
	}
	if a.Prefix.Addr().Is6() {
		// No duplicate address detection on a point-to-point tunnel:
		// the address is usable at once instead of tentative.
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}
