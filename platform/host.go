package platform

import (
	"errors"
	"log/slog"
	"time"
)

// Host is the System of the running OS. Close releases its resources (the
// netlink handle, the system bus connection); it does not undo anything.
type Host interface {
	System
	Close() error
}

// OpenOptions configure Open.
type OpenOptions struct {
	Logger *slog.Logger
	// ResolvConfPath is the resolv.conf the DNS backend manages;
	// DefaultResolvConf when empty.
	ResolvConfPath string
	// NoResolved disables the systemd-resolved backend (no system bus).
	NoResolved bool
	// CoalesceWindow groups route events arriving within it into one
	// RouteUpdate; default 5ms.
	CoalesceWindow time.Duration
	// ResyncInterval is how often the watcher delivers a full snapshot as a
	// safety net; default 30s.
	ResyncInterval time.Duration
}

// Recover opens the running OS and undoes what the state files in stateDir
// record (see Configurator.Recover). Call it when the service starts.
func Recover(stateDir string, logger *slog.Logger) error {
	files, err := stateFiles(stateDir)
	if err != nil || len(files) == 0 {
		return err
	}
	h, err := Open(OpenOptions{Logger: logger})
	if err != nil {
		return err
	}
	c := Configurator{Sys: h, StateDir: stateDir, Logger: logger}
	return errors.Join(c.Recover(), h.Close())
}
