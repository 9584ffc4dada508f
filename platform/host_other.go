//go:build !linux && !darwin && !windows

package platform

import (
	"fmt"
	"runtime"
)

// Open returns the System of the running OS.
func Open(opts OpenOptions) (Host, error) {
	return nil, fmt.Errorf("platform: %s is not supported on %s yet", "network configuration", runtime.GOOS)
}
