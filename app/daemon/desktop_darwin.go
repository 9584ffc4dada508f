package daemon

import (
	"context"
	"fmt"
	"syscall"

	"github.com/cvpn/cvpn/app/ipc"
)

// consoleDesktop answers Desktop on macOS: the peer's user must own
// /dev/console, the user at the screen (root at the login window).
type consoleDesktop struct{}

func osDesktop() Desktop { return consoleDesktop{} }

func (consoleDesktop) ActiveSession(_ context.Context, peer ipc.Peer) (bool, string, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/console", &st); err != nil {
		return false, "", fmt.Errorf("console user: %w", err)
	}
	if st.Uid == 0 || int(st.Uid) != peer.UID {
		return false, fmt.Sprintf("the console belongs to uid %d, not %d", st.Uid, peer.UID), nil
	}
	return true, fmt.Sprintf("uid %d is the console user", peer.UID), nil
}
