package clientapi

import (
	"context"
	"errors"
)

// Credentials supplies what the user types. Implementations prompt on a
// terminal, read an --auth-user-pass file, or ask a GUI.
type Credentials interface {
	// UserPass returns the user name and password. reason says why they are
	// asked again (empty the first time).
	UserPass(ctx context.Context, reason string) (user, pass string, err error)
	// Challenge returns the answer to a static or dynamic challenge (MFA
	// code). echo says whether the answer may be shown while typed.
	Challenge(ctx context.Context, text string, echo bool) (string, error)
}

// Federation runs the browser part of a SAML sign-in (auth-federate): it
// shows the IdP URL to the user (opening the browser, or printing it),
// waits for the IdP's POST on the loopback listener and returns the
// base64 SAMLResponse. The listener must already listen when SignIn opens
// the URL.
type Federation interface {
	SignIn(ctx context.Context, url string) (samlResponse string, err error)
	// ACSPort is the loopback port the listener uses (35001 by default);
	// the server is told "ACS::<port>" in phase 1.
	ACSPort() int
}

// WebAuth shows the sign-in page of an OpenVPN server's pending
// authentication (AUTH_PENDING with WEB_AUTH or OPEN_URL) to the user: it
// opens the URL in the user's browser (never as root), or prints it when
// the browser is disabled, and returns without waiting for the sign-in;
// the server tells the client the outcome. A Federation may implement it.
type WebAuth interface {
	OpenURL(ctx context.Context, url string) error
}

// Errors a client session (client.Run in ovpn/client) ends with; test with
// errors.Is.
var (
	// ErrAuthFailed: the server refused the credentials (exit code 3).
	ErrAuthFailed = errors.New("authentication failed")
	// ErrHalted: the server told the client to stop and not reconnect.
	ErrHalted = errors.New("server halted the connection")
	// ErrInactive: the inactivity timeout ended the connection.
	ErrInactive = errors.New("inactivity timeout")
)
