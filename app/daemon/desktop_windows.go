package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/cvpn/cvpn/app/ipc"
	"golang.org/x/sys/windows"
)

// consoleDesktop answers Desktop on Windows: the peer's process must run
// in the session attached to the physical console.
type consoleDesktop struct{}

func osDesktop() Desktop { return consoleDesktop{} }

func (consoleDesktop) ActiveSession(_ context.Context, peer ipc.Peer) (bool, string, error) {
	if peer.PID <= 0 {
		return false, "", errors.New("the front end's process id is unknown")
	}
	var sid uint32
	if err := windows.ProcessIdToSessionId(uint32(peer.PID), &sid); err != nil {
		return false, "", fmt.Errorf("session of process %d: %w", peer.PID, err)
	}
	console := windows.WTSGetActiveConsoleSessionId()
	if console == 0xFFFFFFFF {
		return false, "no session is attached to the console", nil
	}
	if sid != console {
		return false, fmt.Sprintf("session %d is not the console session (%d)", sid, console), nil
	}
	return true, fmt.Sprintf("session %d is the console session", sid), nil
}
