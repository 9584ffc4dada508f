package ipc

import (
	"fmt"
	"os"
)

// EnvSocket overrides the socket path for the daemon, the CLI and the GUI.
const EnvSocket = "CVPN_SOCKET"

// Peer is the local user at the other end of an IPC connection, as the OS
// reports it.
type Peer struct {
	// UID and GID are the effective user and group ids (-1 when the OS has
	// no such ids).
	UID int
	GID int
	// PID is the process id when the OS reports it, else 0.
	PID int
	// SID is the Windows security identifier of the user, empty elsewhere.
	SID string
	// Admin is set on Windows when the peer's token is LocalSystem or holds
	// an enabled BUILTIN\Administrators group (an elevated administrator);
	// always false elsewhere, where UID 0 and admin groups decide.
	Admin bool
}

func (p Peer) String() string {
	if p.SID != "" {
		return fmt.Sprintf("user %s (pid %d)", p.SID, p.PID)
	}
	if p.PID > 0 {
		return fmt.Sprintf("uid %d (pid %d)", p.UID, p.PID)
	}
	return fmt.Sprintf("uid %d", p.UID)
}

// SameUser reports whether p and o are the same user.
func (p Peer) SameUser(o Peer) bool {
	if p.SID != "" || o.SID != "" {
		return p.SID == o.SID
	}
	return p.UID == o.UID
}

// SocketPath is the path the daemon listens on and front ends dial:
// $CVPN_SOCKET when set, else DefaultSocketPath.
func SocketPath() string {
	if p := os.Getenv(EnvSocket); p != "" {
		return p
	}
	return DefaultSocketPath
}
