package policy

import (
	"os"
	"path/filepath"
)

// programData is %ProgramData% (C:\ProgramData when unset).
func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return d
	}
	return `C:\ProgramData`
}

// DefaultPath is where an administrator puts the policy file
// (%ProgramData%\cvpn\policy.toml).
func DefaultPath() string { return filepath.Join(programData(), "cvpn", "policy.toml") }

// DefaultProfilesDir is where system profiles live unless profiles_dir says
// otherwise (%ProgramData%\cvpn\profiles).
func DefaultProfilesDir() string { return filepath.Join(programData(), "cvpn", "profiles") }
