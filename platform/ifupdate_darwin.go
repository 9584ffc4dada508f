package platform

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/platform/darwin/ifalias"
	"github.com/cvpn/cvpn/routing"
)

var _ InterfaceUpdater = (*darwinHost)(nil)

// SetMTU implements InterfaceUpdater (SIOCSIFMTU).
func (h *darwinHost) SetMTU(name string, mtu int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return fmt.Errorf("interface %s: socket: %w", name, err)
	}
	defer unix.Close(fd)
	var req unix.IfreqMTU
	copy(req.Name[:], name)
	req.MTU = int32(mtu)
	if err := unix.IoctlSetIfreqMTU(fd, &req); err != nil {
		return fmt.Errorf("interface %s: MTU %d: %w", name, mtu, err)
	}
	return nil
}

// ReplaceAddresses implements InterfaceUpdater: SIOCDIFADDR /
// SIOCDIFADDR_IN6 for a removed address (and the subnet route
// ConfigureInterface added for it), SIOCAIFADDR / SIOCAIFADDR_IN6 and a
// subnet route for a new one.
func (h *darwinHost) ReplaceAddresses(name string, old, new []Address) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %s: %w", name, err)
	}
	for _, a := range old {
		if slices.Contains(new, a) {
			continue
		}
		var b []byte
		var family int
		var request uint
		if a.Prefix.Addr().Unmap().Is4() {
			b, err = ifalias.DelReq4(name, a.Prefix.Addr())
			family, request = unix.AF_INET, ifalias.SIOCDIFADDR
		} else {
			b, err = ifalias.DelReq6(name, a.Prefix.Addr())
			family, request = unix.AF_INET6, ifalias.SIOCDIFADDR_IN6
		}
		if err == nil {
			err = ioctlBuf(family, request, b)
		}
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("interface %s: remove address %s: %w", name, a.Prefix, err)
		}
		if !a.Prefix.IsSingleIP() {
			r := routing.Route{Dst: a.Prefix.Masked(), IfIndex: ifi.Index, Interface: name, Protocol: ProtoCVPN}
			if err := h.Delete(r); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("interface %s: subnet route: %w", name, err)
			}
		}
	}
	var add []Address
	for _, a := range new {
		if !slices.Contains(old, a) {
			add = append(add, a)
		}
	}
	if len(add) == 0 {
		return nil
	}
	mtu := ifi.MTU
	_, err = h.ConfigureInterface(name, add, mtu)
	return err
}
