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

// ReplaceAddresses implements InterfaceUpdater (RTM_DELADDR, RTM_NEWADDR);
// the kernel removes the prefix routes of a removed address with it.
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

// linuxAddr is a as netlink adds it (ConfigureInterface's form).
func linuxAddr(a Address) *netlink.Addr {
	na := &netlink.Addr{IPNet: prefixToIPNet(a.Prefix)}
	if a.Peer.IsValid() {
		na.Peer = prefixToIPNet(netip.PrefixFrom(a.Peer, a.Peer.BitLen()))
	}
	if a.Prefix.Addr().Is6() {
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}
