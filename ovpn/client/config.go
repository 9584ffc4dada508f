package client

import (
	"log/slog"
	"syscall"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/platform"
)

// Tunnel applies the negotiated configuration to the OS and returns the TUN
// device. *platform.Configurator implements it (on a fake system in tests).
// Prepare creates the TUN device while the handshake runs; Apply takes it
// over through TunnelConfig.Prepared.
type Tunnel interface {
	Prepare(id, name string, mtu int) (*platform.Prepared, error)
	Apply(cfg platform.TunnelConfig) (*platform.Applied, error)
}

// Config is everything a session needs.
type Config struct {
	Profile     *profile.Profile
	Credentials clientapi.Credentials
	// Federation signs the user in through the browser for profiles with
	// auth-federate; nil makes such profiles fail with a clear error.
	Federation clientapi.Federation
	Tunnel     Tunnel
	// TunnelID names the platform state file for this connection.
	TunnelID string
	// Events receives state changes and other events; nil discards them.
	Events clientapi.EventSink
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Resolver looks up remote host names; nil uses the system resolver.
	Resolver transport.Resolver
	// SocketControl, when set, is called on every transport socket before
	// it connects (cvpn marks its sockets while traffic is blocked).
	SocketControl func(network, address string, c syscall.RawConn) error
	// Version is the cvpn version sent to the server in IV_GUI_VER.
	Version string
	// HandshakeTimeout bounds one connection attempt (reset, TLS, key
	// exchange and push); default min(server-poll-timeout, 60 s).
	HandshakeTimeout time.Duration
	// OnTunnelUp, when set, is called once the tunnel is configured (route
	// enforcement starts there); the function it returns is called before
	// the tunnel is torn down.
	OnTunnelUp func(TunnelInfo) (down func())
	// OnRoutesUpdated, when set, is called after the server changed the
	// tunnel's routes on the live session (PUSH_UPDATE), with the tunnel as
	// it is now (route enforcement follows there).
	OnRoutesUpdated func(TunnelInfo)
	// NoEKM leaves the TLS key export bit out of IV_PROTO so the server
	// derives data keys with the OpenVPN PRF (for old servers and tests).
	NoEKM bool
	// MaxAttempts stops reconnecting after that many failed attempts in a
	// row (0 = connect-retry-max of the profile, itself 0 = unlimited).
	MaxAttempts int
	// NetChanges, when set, delivers the machine's network changes (from
	// platform/netmon): the client moves a UDP session to the new network
	// or reconnects at once, and waits for the network while it is down.
	NetChanges <-chan NetChange
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Config) emit(e clientapi.Event) {
	if c.Events == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = c.now()
	}
	c.Events(e)
}
