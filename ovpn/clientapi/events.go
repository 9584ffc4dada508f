package clientapi

import (
	"time"
)

// State is a connection state as shown to users and scripts.
type State string

// Connection states, in the order a connection normally passes through them.
const (
	StateResolving         State = "resolving"
	StateConnecting        State = "connecting"
	StateAuthenticating    State = "authenticating"
	StateWaitingForBrowser State = "waiting-for-browser"
	StateConfiguring       State = "configuring"
	StateConnected         State = "connected"
	StateReconnecting      State = "reconnecting"
	StateDisconnecting     State = "disconnecting"
	StateDisconnected      State = "disconnected"
)

// Event kinds.
const (
	EventState         = "state"
	EventBanner        = "banner"
	EventSAML          = "saml"
	EventRouteEnforced = "route-enforced"
	EventError         = "error"
	EventLog           = "log"
	// EventNetworkChanged: the machine's network changed (address, default
	// route, link) while connected; Detail says what.
	EventNetworkChanged = "network-changed"
	// EventResumed: the machine (or the client) was suspended and runs again.
	EventResumed = "resumed"
	// EventReauthRequired: the server no longer accepts the federated
	// sign-in (its session timeout passed): the user must sign in again
	// in the browser; Message says so.
	EventReauthRequired = "reauth-required"
	// EventWebAuth carries the sign-in page (URL) of an OpenVPN server's
	// pending authentication (AUTH_PENDING with WEB_AUTH or OPEN_URL).
	EventWebAuth = "web-auth"
	// EventBlocked: traffic outside the tunnel is blocked (block_when_down);
	// Message says what is let through, Detail is the mode ("full" or
	// "split").
	EventBlocked = "blocked"
	// EventUnblocked: the block is lifted; Message says what was removed.
	EventUnblocked = "unblocked"
)

// Event is one entry of the connection's event stream; its JSON form is the
// `cvpn connect --json` contract.
type Event struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	State      State     `json:"state,omitempty"`
	TunnelIPv4 string    `json:"tunnel_ipv4,omitempty"`
	TunnelIPv6 string    `json:"tunnel_ipv6,omitempty"`
	Interface  string    `json:"interface,omitempty"`
	Server     string    `json:"server,omitempty"`
	Cipher     string    `json:"cipher,omitempty"`
	// KeyDerivation is "tls-ekm" or "prf" on the connected event.
	KeyDerivation string `json:"key_derivation,omitempty"`
	Text          string `json:"text,omitempty"`
	URL           string `json:"url,omitempty"`
	Action        string `json:"action,omitempty"`
	Route         string `json:"route,omitempty"`
	Message       string `json:"message,omitempty"`
	// Detail is a short human explanation that accompanies a state (for
	// example which remote is being tried or why a reconnect happens).
	Detail string `json:"detail,omitempty"`
	// DataKeys is "epoch" on the connected event when the data channel
	// uses OpenVPN 2.7's epoch data keys.
	DataKeys string `json:"data_keys,omitempty"`
}

// EventSink receives events. It must not block for long.
type EventSink func(Event)
