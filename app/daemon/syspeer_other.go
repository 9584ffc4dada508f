//go:build !windows

package daemon

import "github.com/cvpn/cvpn/app/ipc"

// systemPeer owns the connections the daemon starts itself: root.
func systemPeer() ipc.Peer { return ipc.Peer{UID: 0, GID: 0} }
