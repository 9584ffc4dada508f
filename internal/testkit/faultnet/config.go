package faultnet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// DefaultMaxQueue bounds the packets waiting per direction.
const DefaultMaxQueue = 4096

// Config describes one proxy.
type Config struct {
	// Listen is where peers connect (port 0 picks a free one).
	Listen netip.AddrPort
	// Target is where traffic is relayed to.
	Target netip.AddrPort
	// Up applies to peer->target traffic, Down to target->peer traffic.
	Up, Down Impairment
	// Seed makes the impairment decisions reproducible.
	Seed uint64
	// MaxQueue bounds delayed packets per direction (default DefaultMaxQueue).
	MaxQueue int
	// Dial opens the connection to the target ("udp" or "tcp"). Nil uses a
	// net.Dialer from the calling goroutine's network namespace.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// IdleTimeout ends a UDP association with no traffic for this long
	// (default 2 minutes).
	IdleTimeout time.Duration
	// Now is the clock for delays (nil = time.Now).
	Now func() time.Time
	// Logger receives diagnostics (nil discards them).
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if !c.Target.IsValid() {
		return fmt.Errorf("faultnet: Config.Target is not set")
	}
	if !c.Listen.Addr().IsValid() {
		return fmt.Errorf("faultnet: Config.Listen %q has no address", c.Listen)
	}
	if err := c.Up.Validate(); err != nil {
		return fmt.Errorf("%w (direction up)", err)
	}
	if err := c.Down.Validate(); err != nil {
		return fmt.Errorf("%w (direction down)", err)
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
