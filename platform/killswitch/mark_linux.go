package killswitch

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// MarkControl returns a net.Dialer Control function that puts mark on a
// socket (SO_MARK, needs CAP_NET_ADMIN), so that a full block lets cvpn's
// own server connections and DNS lookups through.
func MarkControl(mark uint32) func(network, address string, c syscall.RawConn) error {
	if mark == 0 {
		mark = DefaultMark
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		})
		if err != nil {
			return err
		}
		return serr
	}
}
