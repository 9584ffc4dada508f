package policy

// DefaultPath is where an administrator puts the policy file (a pkg
// installs it there; see the README's section for IT).
func DefaultPath() string { return "/Library/Application Support/cvpn/policy.toml" }

// DefaultProfilesDir is where system profiles live unless profiles_dir says
// otherwise.
func DefaultProfilesDir() string { return "/Library/Application Support/cvpn/profiles" }
