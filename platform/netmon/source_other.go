//go:build !linux && !darwin && !windows

package netmon

import (
	"errors"
	"runtime"
)

func preflight(*Options) error {
	return errors.New("netmon: not supported on " + runtime.GOOS)
}

func newSource(o *Options) (source, error) { return nil, preflight(o) }
