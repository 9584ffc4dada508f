package ipc

import "context"

// TypeDesktopSession asks the daemon whether the caller runs in the
// active desktop session of a seat: only the app there connects the
// policy's autoconnect profiles that need a user (issue 19 §3); an app in
// another session (a switched-away user, a remote session) shows the
// status and is not asked.
const TypeDesktopSession = "desktop-session"

// DesktopSession is the daemon's answer to TypeDesktopSession.
type DesktopSession struct {
	// Active is true when the caller's process is in the active, local
	// session of a seat (Linux: logind; Windows: the console session;
	// macOS: the console user).
	Active bool `json:"active"`
	// Reason says why, for the app's log ("session 3 is not active").
	Reason string `json:"reason,omitempty"`
}

// DesktopSessionHandler is implemented by a Handler that can answer
// TypeDesktopSession (the daemon's Manager).
type DesktopSessionHandler interface {
	DesktopSession(ctx context.Context, peer Peer) DesktopSession
}

// DesktopSession asks the daemon whether this process runs in the active
// desktop session. A daemon that cannot tell answers with CodeBadRequest.
func (c *Client) DesktopSession(ctx context.Context) (DesktopSession, error) {
	r, err := c.call(ctx, &Message{Type: TypeDesktopSession})
	if err != nil {
		return DesktopSession{}, err
	}
	if r.Desktop == nil {
		return DesktopSession{}, nil
	}
	return *r.Desktop, nil
}
