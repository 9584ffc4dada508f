package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/platform"
)

// Options configure one connection.
type Options struct {
	Profile     *profile.Profile
	Credentials client.Credentials
	// StateDir holds crash-recovery state (platform changes, route
	// journal); DefaultStateDir when empty.
	StateDir string
	// TunnelID distinguishes simultaneous connections' state files.
	TunnelID string
	Events   client.EventSink
	Logger   *slog.Logger
	Version  string
	// NoEKM makes the server derive keys with the OpenVPN PRF (the
	// CVPN_KEY_DERIVATION=prf environment variable of cvpn connect).
	NoEKM bool
	// Host, when set, is used instead of opening the OS network stack.
	Host platform.System
}

// DefaultStateDir is where crash-recovery state lives: $CVPN_HOME/state
// when CVPN_HOME is set, /var/lib/cvpn for root, else the user's data root.
func DefaultStateDir() (string, error) {
	if h := os.Getenv(profilestore.EnvHome); h != "" {
		return filepath.Join(h, "state"), nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/cvpn", nil
	}
	root, err := profilestore.DefaultRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "state"), nil
}

// Recover undoes every change a crashed cvpn left in stateDir (TUN devices,
// routes, DNS). It is safe to call at every start.
func Recover(stateDir string, logger *slog.Logger) error {
	if err := platform.Recover(stateDir, logger); err != nil {
		return fmt.Errorf("cleaning up after a previous cvpn run: %w", err)
	}
	return nil
}

// Run connects and stays connected until ctx ends (nil after a clean
// disconnect) or a fatal error.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return err
		}
		o.StateDir = d
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := Recover(o.StateDir, o.Logger); err != nil {
		return err
	}
	sys := o.Host
	if sys == nil {
		h, err := platform.Open(platform.OpenOptions{Logger: o.Logger})
		if err != nil {
			return err
		}
		defer h.Close()
		sys = h
	}
	conf := &platform.Configurator{Sys: sys, StateDir: o.StateDir, Logger: o.Logger}
	c, err := client.New(client.Config{
		Profile:     o.Profile,
		Credentials: o.Credentials,
		Tunnel:      conf,
		TunnelID:    o.TunnelID,
		Events:      o.Events,
		Logger:      o.Logger,
		Version:     o.Version,
		NoEKM:       o.NoEKM,
	})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// IsAuthFailure reports whether err means the server refused the user.
func IsAuthFailure(err error) bool { return errors.Is(err, client.ErrAuthFailed) }
