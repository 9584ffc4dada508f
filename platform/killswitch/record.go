package killswitch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cvpn/cvpn/internal/atomicfile"
)

const recordVersion = 1

// RecordFile is the name of the block's record in the state directory.
const RecordFile = "block.json"

// Record is a block as remembered in the state directory: written before
// the firewall changes, removed after the block is lifted.
type Record struct {
	Version int `json:"version"`
	// TunnelID and Profile identify the connection that holds the block.
	TunnelID string `json:"tunnel_id,omitempty"`
	Profile  string `json:"profile,omitempty"`
	PID      int    `json:"pid"`
	// UID is the user who chose the block (-1 when unknown); Forced is
	// true when the administrator's policy forced it, then only an
	// administrator may lift it.
	UID    int  `json:"uid"`
	Forced bool `json:"forced,omitempty"`
	// Backend names what holds the rules ("nftables table inet cvpn").
	Backend string `json:"backend,omitempty"`
	Rules   Rules  `json:"rules"`
	// EnableToken is the reference the backend took on the OS firewall
	// being enabled (macOS: pf's enable token, see EnableRef), released
	// when the block is lifted, also by the next process after a crash.
	EnableToken string `json:"enable_token,omitempty"`
}

// RecordPath is the record's path in the state directory dir.
func RecordPath(dir string) string { return filepath.Join(dir, RecordFile) }

// SaveRecord writes rec to dir atomically and durably: a block outlives a
// reboot of the daemon or the machine until it is lifted.
func SaveRecord(dir string, rec Record) error {
	rec.Version = recordVersion
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("killswitch: encode record: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("killswitch: state directory: %w", err)
	}
	err = atomicfile.Write(RecordPath(dir), data, atomicfile.Options{
		Mode: 0o600, TempPattern: ".tmp-" + RecordFile + "-*", Sync: true, SyncDir: true,
	})
	if err != nil && !atomicfile.IsSyncDir(err) {
		return fmt.Errorf("killswitch: record: %w", err)
	}
	return nil
}

// LoadRecord reads the record in dir; nil without error when there is none.
func LoadRecord(dir string) (*Record, error) {
	path := RecordPath(dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("killswitch: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("killswitch: record %s: %w", path, err)
	}
	if rec.Version != recordVersion {
		return nil, fmt.Errorf("killswitch: record %s: version %d, want %d", path, rec.Version, recordVersion)
	}
	if err := rec.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("killswitch: record %s: %w", path, err)
	}
	return &rec, nil
}

// DeleteRecord removes the record in dir; a missing record is no error.
func DeleteRecord(dir string) error {
	if err := os.Remove(RecordPath(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("killswitch: %w", err)
	}
	return nil
}
