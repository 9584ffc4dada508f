package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvpn/cvpn/internal/atomicfile"
	"github.com/cvpn/cvpn/routing"
)

const (
	stateVersion = 1
	statePrefix  = "platform-"
	stateSuffix  = ".json"
)

// State records every change a tunnel made outside its TUN device, so that
// Recover can undo them after a crash. It is written before each change.
type State struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	// TUN is the name of the TUN interface created, empty before creation.
	TUN string `json:"tun,omitempty"`
	// Routes are the routes added, in the order they were added (also
	// those through the TUN, which vanish with it).
	Routes []routing.Route `json:"routes,omitempty"`
	// DNS is the DNS change, nil when DNS was not touched.
	DNS *DNSRecord `json:"dns,omitempty"`
}

// StatePath is the state file of tunnel id in dir.
func StatePath(dir, id string) string {
	return filepath.Join(dir, statePrefix+id+stateSuffix)
}

// writeState writes s to path atomically: temporary file in the same
// directory, rename. The file is replaced before every change it records,
// so that a killed cvpn leaves a record of everything it changed; the page
// cache keeps it across a process crash. Only a record of a DNS change
// that outlives a reboot (a rewritten resolv.conf, an NRPT rule) is also
// flushed to disk (fsync of the file, then of the directory): TUN devices,
// routes, systemd-resolved link settings and the macOS dynamic store do
// not survive a power cut, so their records need no flush. That keeps two
// disk flushes per route (1-2.5 ms each here) off the connect path.
func writeState(path string, s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("platform: encode state %s: %w", path, err)
	}
	durable := s.DNS != nil && dnsOutlivesReboot(s.DNS.Backend)
	err = atomicfile.Write(path, data, atomicfile.Options{
		Mode:        0o600,
		TempPattern: ".tmp-" + filepath.Base(path) + "-*",
		Sync:        durable,
		SyncDir:     durable,
	})
	if err != nil && !atomicfile.IsSyncDir(err) { // flushing the folder is best effort: some file systems refuse
		return fmt.Errorf("platform: state: %w", err)
	}
	return nil
}

// readState reads one state file.
func readState(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("platform: read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("platform: state file %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("platform: state file %s: version %d, want %d", path, s.Version, stateVersion)
	}
	return &s, nil
}

// stateFiles lists the state files in dir, sorted by name.
func stateFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("platform: state dir: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, statePrefix) && strings.HasSuffix(n, stateSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out, nil
}

// validID reports whether id is usable in a state file name.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return id[0] != '.'
}

// dnsOutlivesReboot reports whether a DNS change made by backend stays
// after a reboot (so its record must reach the disk before the change).
func dnsOutlivesReboot(backend string) bool {
	switch backend {
	case BackendResolved, BackendScutil:
		return false
	}
	return true
}
