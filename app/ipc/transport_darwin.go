package ipc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// DefaultSocketPath is where the daemon listens unless CVPN_SOCKET says
// otherwise.
const DefaultSocketPath = "/var/run/cvpn/cvpn.sock"

// xucredVersion is XUCRED_VERSION of <sys/ucred.h>.
const xucredVersion = 0

// peerOf reads LOCAL_PEERCRED (the peer's effective uid and groups) and
// LOCAL_PEERPID.
func peerOf(c *net.UnixConn) (Peer, error) {
	var p Peer
	err := rawCred(c, func(fd uintptr) error {
		x, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return err
		}
		if x.Version != xucredVersion {
			return fmt.Errorf("xucred version %d, want %d", x.Version, xucredVersion)
		}
		p = Peer{UID: int(x.Uid), GID: -1}
		if x.Ngroups > 0 {
			p.GID = int(x.Groups[0])
		}
		if pid, err := unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
			p.PID = pid
		}
		return nil
	})
	if err != nil {
		return Peer{}, fmt.Errorf("ipc: LOCAL_PEERCRED: %w", err)
	}
	return p, nil
}
