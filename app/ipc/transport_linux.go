package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// DefaultSocketPath is where the daemon listens unless CVPN_SOCKET says
// otherwise.
const DefaultSocketPath = "/run/cvpn/cvpn.sock"

// peerOf reads SO_PEERCRED: the credentials of the process that connected.
func peerOf(c *net.UnixConn) (Peer, error) {
	var p Peer
	err := rawCred(c, func(fd uintptr) error {
		u, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return err
		}
		p = Peer{UID: int(u.Uid), GID: int(u.Gid), PID: int(u.Pid)}
		return nil
	})
	if err != nil {
		return Peer{}, fmt.Errorf("ipc: SO_PEERCRED: %w", err)
	}
	return p, nil
}
