package gui

import (
	"context"
	"errors"
	"time"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// ErrDaemonNotRunning is wrapped by Backend implementations when the cvpn
// daemon cannot be reached (no socket, connection refused). The UI then
// explains how to start the service.
var ErrDaemonNotRunning = errors.New("the cvpn daemon is not running")

// ConnEvent is one event of one connection, tagged with the connection
// (profile) name.
type ConnEvent struct {
	Name string `json:"name"`
	clientapi.Event
}

// ConnStatus is the daemon's view of one connection.
type ConnStatus struct {
	Name       string          `json:"name"`
	State      clientapi.State `json:"state"`
	Detail     string          `json:"detail,omitempty"`
	TunnelIPv4 string          `json:"tunnel_ipv4,omitempty"`
	TunnelIPv6 string          `json:"tunnel_ipv6,omitempty"`
	Interface  string          `json:"interface,omitempty"`
	Server     string          `json:"server,omitempty"`
	Cipher     string          `json:"cipher,omitempty"`
	// ConnectedSince is when the tunnel came up (zero unless connected).
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	BytesIn        uint64    `json:"bytes_in"`
	BytesOut       uint64    `json:"bytes_out"`
	// LastError is the last error message of this connection, if any.
	LastError string `json:"last_error,omitempty"`
}

// Profiles manages the user's stored profiles. StoreProfiles implements it
// over app/profilestore; the GUI runs as the user and may use the store
// directly.
type Profiles interface {
	List() ([]profilestore.Entry, error)
	// Import validates the file and stores it under name (derived from
	// the file name when empty).
	Import(path, name string) (profilestore.Entry, profile.Diagnostics, error)
	Rename(oldName, newName string) error
	Remove(name string) error
	Show(name string) (profilestore.Details, error)
	// Managed reports whether name is a system profile (read-only).
	Managed(name string) bool
	// UserProfilesAllowed is false when the policy forbids importing,
	// renaming and removing profiles.
	UserProfilesAllowed() bool
	// Settings and SetSettings read and store the user's choices for a
	// profile (connect at login, reconnect after resume).
	Settings(name string) (profilestore.Settings, error)
	SetSettings(name string, s profilestore.Settings) error
}

// DesktopSession is implemented by backends that can ask the daemon
// whether this app runs in the active desktop session of a seat
// (daemonbackend.Backend). Only that app connects the policy's autoconnect
// profiles that need a user; an app in another session (switched-away
// user, remote session) shows their status and leaves them alone.
type DesktopSession interface {
	// ActiveDesktopSession reports the daemon's answer and its reason; an
	// error when the daemon cannot answer (the app then connects them).
	ActiveDesktopSession(ctx context.Context) (active bool, reason string, err error)
}

// Connections controls the connections the daemon owns.
type Connections interface {
	// Connect asks for the stored profile name to be connected and returns
	// once the request is accepted; progress arrives as events. creds
	// answers the credential and MFA requests of this connection; it may
	// be called from any goroutine until the connection ends.
	Connect(ctx context.Context, name string, creds clientapi.Credentials) error
	// Disconnect asks for the connection to be closed.
	Disconnect(ctx context.Context, name string) error
	// Status describes every connection the daemon knows.
	Status(ctx context.Context) ([]ConnStatus, error)
	// Events streams the events of every connection until ctx ends or the
	// daemon goes away; the channel is then closed.
	Events(ctx context.Context) (<-chan ConnEvent, error)
}

// Backend is everything the UI needs.
type Backend interface {
	Profiles
	Connections
}
