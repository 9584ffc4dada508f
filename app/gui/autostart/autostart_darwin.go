package autostart

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
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

// entry is the LaunchAgent property list that starts exe at login.
func entry(id, exe string) (string, error) {
	return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key><string>` + escape(id) + `</string>
	<key>ProgramArguments</key><array><string>` + escape(exe) + `</string><string>` + AtLoginFlag + `</string></array>
	<key>RunAtLoad</key><true/>
</dict>
</plist>
`, nil
}
