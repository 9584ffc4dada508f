//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

func rebindUDP(*net.UDPConn, netip.AddrPort) (netip.AddrPort, error) {
	return netip.AddrPort{}, ErrRebindUnsupported
}

func localUDP(c *net.UDPConn) (netip.AddrPort, error) {
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}
