//go:build !linux && !darwin && !windows

package killswitch

import (
	"fmt"
	"log/slog"
	"runtime"
)

// Open returns an error: no firewall backend for this OS.
func Open(*slog.Logger) (Firewall, error) {
	return nil, fmt.Errorf("killswitch: %w (%s)", ErrUnsupported, runtime.GOOS)
}
