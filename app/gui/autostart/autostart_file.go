//go:build linux || darwin

package autostart

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// Set enables or disables starting exe at login under the app id: it
// writes or removes the per-OS entry file (see path and entry).
func Set(id, exe string, on bool) error {
	p, err := path(id)
	if err != nil {
		return err
	}
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	content, err := entry(id, exe)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, []byte(content), atomicfile.Options{Mode: 0o644})
}

// Enabled reports whether the entry file exists.
func Enabled(id string) (bool, error) {
	p, err := path(id)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
