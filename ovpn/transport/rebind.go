package transport

import (
	"errors"
	"net"
	"net/netip"
)

// ErrRebindUnsupported is returned by Rebind where a connected UDP socket
// cannot change its local address in place (the caller reconnects).
var ErrRebindUnsupported = errors.New("transport: rebinding a UDP socket is not supported on this system")

// Rebind lets a connected UDP transport pick its local address again
// after the machine's network changed (a new address, a new default
// route): the socket stays the same, so readers and writers carry on, and
// its new local address and port are returned. TCP transports cannot
// rebind.
func Rebind(c Conn) (netip.AddrPort, error) {
	u, ok := c.(*udpConn)
	if !ok {
		return netip.AddrPort{}, errors.New("transport: only UDP transports rebind")
	}
	return rebindUDP(u.c, u.remote)
}

// LocalAddrPort is the transport's current local address and port.
func LocalAddrPort(c Conn) netip.AddrPort {
	if u, ok := c.(*udpConn); ok {
		if a, err := localUDP(u.c); err == nil {
			return a
		}
	}
	switch a := c.LocalAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// SourceFor is the local address the system would use now to reach
// remote, without sending anything. An error (typically "network is
// unreachable") means the machine has no route there: the network is down.
func SourceFor(remote netip.AddrPort) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(remote))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
