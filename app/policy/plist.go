package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"howett.net/plist"
)

// ManagedPrefsPath is where macOS puts the managed preferences of domain
// that a device (system) configuration profile installs.
func ManagedPrefsPath(domain string) string {
	return "/Library/Managed Preferences/" + domain + ".plist"
}

// PlistSource reads a managed-preferences plist (XML or binary: what an
// MDM leaves there is often binary). Keys starting with "Payload" (a
// configuration profile's own bookkeeping) are skipped.
type PlistSource struct{ Path string }

// Name implements Source.
func (s PlistSource) Name() string { return "managed preferences " + s.Path }

// Entry implements Source.
func (PlistSource) Entry() string { return "key" }

// Read implements Source.
func (s PlistSource) Read() (map[string]any, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var top map[string]any
	if _, err := plist.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a property list of keys and values: %w", err)
	}
	out := make(map[string]any, len(top))
	for k, v := range top {
		if !strings.HasPrefix(k, "Payload") {
			out[k] = v
		}
	}
	return out, nil
}
