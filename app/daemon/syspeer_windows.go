package daemon

import "github.com/cvpn/cvpn/app/ipc"

// systemPeer owns the connections the daemon starts itself: LocalSystem.
func systemPeer() ipc.Peer { return ipc.Peer{UID: -1, GID: -1, SID: "S-1-5-18", Admin: true} }
