package listener

import (
	"context"
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// listenControl sets SO_EXCLUSIVEADDRUSE so no other process can bind the
// same port on top of ours and read the assertion.
// soExclusiveAddrUse is SO_EXCLUSIVEADDRUSE, ~SO_REUSEADDR (winsock2.h).
const soExclusiveAddrUse = ^0x4

func listenControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = windows.SetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, soExclusiveAddrUse, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func isAddrInUse(err error) bool {
	return errors.Is(err, windows.WSAEADDRINUSE) || errors.Is(err, windows.WSAEACCES) || errors.Is(err, syscall.EADDRINUSE)
}

// portHolder: Windows does not tell without the IP helper API; the user
// can run `netstat -ano -p TCP`.
func portHolder(ctx context.Context, port int) string { return "" }
