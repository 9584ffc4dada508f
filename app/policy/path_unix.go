//go:build !windows && !darwin

package policy

// DefaultPath is where an administrator puts the policy file.
func DefaultPath() string { return "/etc/cvpn/policy.toml" }

// DefaultProfilesDir is where system profiles live unless profiles_dir says
// otherwise.
func DefaultProfilesDir() string { return "/etc/cvpn/profiles" }
