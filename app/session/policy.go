package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/BurntSushi/toml"
)

// DefaultPolicyFile is the system policy file an administrator writes.
const DefaultPolicyFile = "/etc/cvpn/policy.toml"

// Values of client_route_enforcement in the policy file.
const (
	// EnforcementEndpoint follows the endpoint's switch (the default).
	EnforcementEndpoint = "endpoint"
	// EnforcementForce turns client route enforcement on for every
	// connection, whatever the endpoint says.
	EnforcementForce = "force"
)

// AdminPolicy is the part of the system policy file the session obeys.
// Keys it does not know are left for other parts of cvpn.
type AdminPolicy struct {
	// ClientRouteEnforcement is EnforcementEndpoint or EnforcementForce.
	ClientRouteEnforcement string `toml:"client_route_enforcement"`
}

// ForceEnforcement reports whether the policy forces client route
// enforcement on.
func (p AdminPolicy) ForceEnforcement() bool {
	return p.ClientRouteEnforcement == EnforcementForce
}

// LoadAdminPolicy reads the policy file at path. A missing file is the
// default policy (follow the endpoint). A file that cannot be read or
// parsed, or a value it does not understand, is an error naming the file,
// because silently ignoring an administrator's policy would be worse than
// refusing to connect.
func LoadAdminPolicy(path string) (AdminPolicy, error) {
	p := AdminPolicy{ClientRouteEnforcement: EnforcementEndpoint}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("policy file: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return p, fmt.Errorf("policy file %s: %w", path, err)
	}
	v, ok := raw["client_route_enforcement"]
	if !ok {
		return p, nil
	}
	s, ok := v.(string)
	if !ok {
		return p, fmt.Errorf("policy file %s: client_route_enforcement must be a string (%q or %q), not %v",
			path, EnforcementEndpoint, EnforcementForce, v)
	}
	switch s {
	case EnforcementEndpoint, EnforcementForce:
		p.ClientRouteEnforcement = s
	default:
		return p, fmt.Errorf("policy file %s: client_route_enforcement = %q: want %q or %q",
			path, s, EnforcementEndpoint, EnforcementForce)
	}
	return p, nil
}
