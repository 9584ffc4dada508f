//go:build !linux

package killswitch

import "syscall"

// MarkControl returns nil: only Linux marks sockets. macOS lets root's
// sockets through (pf "user root"), Windows lets cvpn's executable through
// (WFP application ID).
func MarkControl(uint32) func(network, address string, c syscall.RawConn) error { return nil }
