package autostart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// path is $XDG_CONFIG_HOME/autostart/ID.desktop.
func path(id string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "autostart", id+".desktop"), nil
}

// entry is the XDG autostart desktop file that starts exe.
func entry(id, exe string) (string, error) {
	if strings.ContainsAny(exe, "\n\"") {
		return "", fmt.Errorf("autostart: program path %q cannot be written to a desktop file", exe)
	}
	return "[Desktop Entry]\nType=Application\nName=cvpn\nComment=VPN client\n" +
		"Exec=\"" + exe + "\" " + AtLoginFlag + "\nIcon=" + id + "\nTerminal=false\nX-GNOME-Autostart-enabled=true\n", nil
}
