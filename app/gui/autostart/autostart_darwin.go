package autostart

import (
	"encoding/xml"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// path is ~/Library/LaunchAgents/ID.plist.
func path(id string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, "Library", "LaunchAgents", id+".plist"), nil
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
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
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	content := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key><string>` + escape(id) + `</string>
	<key>ProgramArguments</key><array><string>` + escape(exe) + `</string></array>
	<key>RunAtLoad</key><true/>
</dict>
</plist>
`
	return atomicfile.Write(p, []byte(content), atomicfile.Options{Mode: 0o644})
}

// Enabled reports whether the LaunchAgent exists.
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
