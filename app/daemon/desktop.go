package daemon

import (
	"context"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
)

// Desktop tells whether a front end runs in the active desktop session of
// a seat: only the app there connects the policy's autoconnect profiles
// that need a user (issue 19 §3). Linux asks logind (Logind), Windows
// compares the process's session with the console session, macOS the
// user with the console's owner; tests pass a fake.
type Desktop interface {
	// ActiveSession reports whether peer's process is in the active,
	// local session, with a reason for the log; an error when the OS
	// cannot tell.
	ActiveSession(ctx context.Context, peer ipc.Peer) (active bool, reason string, err error)
}

// desktopTimeout bounds one question to the OS (logind over D-Bus).
const desktopTimeout = 5 * time.Second

// DesktopSession implements ipc.DesktopSessionHandler. When the OS cannot
// tell (no logind, an unknown process id) the answer is "active", as
// before this check: the app connects.
func (m *Manager) DesktopSession(ctx context.Context, peer ipc.Peer) ipc.DesktopSession {
	d := m.cfg.Desktop
	if d == nil {
		d = osDesktop()
	}
	ctx, cancel := context.WithTimeout(ctx, desktopTimeout)
	defer cancel()
	active, reason, err := d.ActiveSession(ctx, peer)
	if err != nil {
		m.log.Warn("cannot tell whether the app runs in the active desktop session; treating it as active", "peer", peer.String(), "err", err)
		return ipc.DesktopSession{Active: true, Reason: "cannot tell: " + err.Error()}
	}
	m.log.Info("desktop session", "peer", peer.String(), "active", active, "reason", reason)
	return ipc.DesktopSession{Active: active, Reason: reason}
}
