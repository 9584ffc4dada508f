package transport

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rebindUDP dissolves the socket's association (connect to AF_UNSPEC),
// which on Linux also forgets the automatically chosen local address and
// port, and connects again: the kernel picks the source the routing table
// prefers now.
func rebindUDP(c *net.UDPConn, remote netip.AddrPort) (netip.AddrPort, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var opErr error
	err = rc.Control(func(fd uintptr) {
		unspec := unix.RawSockaddr{Family: unix.AF_UNSPEC}
		if _, _, e := syscall.Syscall(syscall.SYS_CONNECT, fd, uintptr(unsafe.Pointer(&unspec)), unsafe.Sizeof(unspec)); e != 0 && e != syscall.EAFNOSUPPORT {
			opErr = fmt.Errorf("udp %s: dissolving the association: %w", remote, e)
			return
		}
		if err := unix.Connect(int(fd), sockaddrOf(c, remote)); err != nil {
			opErr = fmt.Errorf("udp %s: connecting from a new address: %w", remote, err)
		}
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return netip.AddrPort{}, err
	}
	return localUDP(c)
}

// sockaddrOf is remote in the socket's address family (an IPv4 remote on
// an IPv6 socket is v4-mapped).
func sockaddrOf(c *net.UDPConn, remote netip.AddrPort) unix.Sockaddr {
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil || remote.Addr().Is6() && !remote.Addr().Is4In6() {
		return &unix.SockaddrInet6{Port: int(remote.Port()), Addr: remote.Addr().As16()}
	}
	return &unix.SockaddrInet4{Port: int(remote.Port()), Addr: remote.Addr().Unmap().As4()}
}

// localUDP asks the kernel for the socket's local address (net.UDPConn
// caches the one of the first connect).
func localUDP(c *net.UDPConn) (netip.AddrPort, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var sa unix.Sockaddr
	var opErr error
	if err := rc.Control(func(fd uintptr) { sa, opErr = unix.Getsockname(int(fd)) }); err != nil {
		return netip.AddrPort{}, err
	}
	if opErr != nil {
		return netip.AddrPort{}, opErr
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("udp: unexpected local address %T", sa)
}
