//go:build !windows

package listener

import (
	"errors"
	"syscall"
)

// listenControl keeps Go's defaults on Unix (SO_REUSEADDR only, which
// still refuses a port another socket is listening on).
func listenControl(network, address string, c syscall.RawConn) error { return nil }

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
