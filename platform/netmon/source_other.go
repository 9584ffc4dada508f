//go:build !linux && !darwin && !windows

package netmon

import (
	"errors"
	"runtime"
)

func newSource(*Options) (source, error) {
	return nil, errors.New("netmon: not supported on " + runtime.GOOS)
}
