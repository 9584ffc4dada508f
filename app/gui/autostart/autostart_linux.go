package autostart

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// path is $XDG_CONFIG_HOME/autostart/ID.desktop.
func path(id string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "autostart", id+".desktop"), nil
}

// Set enables or disables starting exe at login under the app id.
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
	if strings.ContainsAny(exe, "\n\"") {
		return fmt.Errorf("autostart: program path %q cannot be written to a desktop file", exe)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	content := "[Desktop Entry]\nType=Application\nName=cvpn\nComment=VPN client\n" +
		"Exec=\"" + exe + "\"\nIcon=" + id + "\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
	return atomicfile.Write(p, []byte(content), atomicfile.Options{Mode: 0o644})
}

// Enabled reports whether the autostart entry exists.
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
