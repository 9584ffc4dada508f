package profilestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

// Settings are a user's choices for one of their profiles, stored beside
// it as NAME.settings.json.
type Settings struct {
	// ConnectAtLogin: the app connects the profile when it starts at login.
	ConnectAtLogin bool `json:"connect_at_login"`
	// ReconnectAfterResume: after the machine wakes up the connection is
	// re-established at once. Stored and exposed here; the network monitor
	// work (issue 19 §1) consumes it.
	ReconnectAfterResume bool `json:"reconnect_after_resume"`
}

// DefaultSettings apply to a profile without a settings file.
func DefaultSettings() Settings { return Settings{ReconnectAfterResume: true} }

const settingsExt = ".settings.json"

func (s *Store) settingsPath(name string) string { return filepath.Join(s.dir, name+settingsExt) }

// Settings reads a profile's settings (DefaultSettings when none are
// stored).
func (s *Store) Settings(name string) (Settings, error) {
	if err := ValidateName(name); err != nil {
		return Settings{}, err
	}
	st := DefaultSettings()
	data, err := os.ReadFile(s.settingsPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("profile settings: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return DefaultSettings(), fmt.Errorf("profile settings %s: %w", s.settingsPath(name), err)
	}
	return st, nil
}

// SetSettings stores a profile's settings (not for system profiles).
func (s *Store) SetSettings(name string, st Settings) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if s.system {
		return errSystem(name)
	}
	if _, err := os.Stat(s.path(name)); err != nil {
		return notFound(name)
	}
	data, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(s.settingsPath(name), append(data, '\n'), atomicfile.Options{Mode: fileMode, Sync: true}); err != nil {
		return fmt.Errorf("profile settings: %w", err)
	}
	return nil
}
