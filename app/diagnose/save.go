package diagnose

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/internal/atomicfile"
)

// DefaultName is the bundle's file name when none is given:
// cvpn-diagnostics-YYYYMMDD-HHMMSS.zip (local time).
func DefaultName(now time.Time) string {
	return "cvpn-diagnostics-" + now.Format("20060102-150405") + ".zip"
}

// FromDaemon asks the daemon at socket for its part of the bundle, giving
// up after timeout (the bundle must be written even when it hangs).
func FromDaemon(socket string, timeout time.Duration) func(ctx context.Context) (*ipc.Diagnostics, error) {
	return func(ctx context.Context) (*ipc.Diagnostics, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c, err := ipc.Dial(ctx, socket, ipc.ClientOptions{})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.Diagnostics(ctx)
	}
}

// Save writes the bundle to path atomically (mode 0600: it describes the
// user's connections), never leaving half a zip behind.
func Save(ctx context.Context, path string, o Options) (Report, error) {
	var buf bytes.Buffer
	r, err := Write(ctx, &buf, o)
	if err != nil {
		return r, fmt.Errorf("diagnostics bundle: %w", err)
	}
	if err := atomicfile.Write(path, buf.Bytes(), atomicfile.Options{Mode: 0o600, Sync: true}); err != nil {
		return r, fmt.Errorf("diagnostics bundle: %w", err)
	}
	return r, nil
}
