package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/cvpn/cvpn/app/profilestore"
)

// EnvPolicy names the environment variable that points at the policy file
// when no --policy flag is given.
const EnvPolicy = "CVPN_POLICY"

// Values of client_route_enforcement.
const (
	// EnforcementEndpoint follows the endpoint's switch (the default).
	EnforcementEndpoint = "endpoint"
	// EnforcementForce turns client route enforcement on for every
	// connection, whatever the endpoint says.
	EnforcementForce = "force"
)

// MaxConnectionsLimit is the largest max_connections accepted.
const MaxConnectionsLimit = 64

// Policy is what an administrator decided for every user of the machine.
// The zero value is not the default: use Default or Load.
type Policy struct {
	// Path is the file read; Found is false when it did not exist.
	Path  string
	Found bool
	// Managed names the MDM/GPO source (registry key, managed-preferences
	// plist) that set at least one key; "" when none did.
	Managed string
	// From says where each key that was set came from ("file PATH" or
	// the managed source's name); keys left at their default are absent.
	From map[string]string

	// ClientRouteEnforcement is EnforcementEndpoint or EnforcementForce.
	ClientRouteEnforcement string
	// Autoconnect names system profiles the daemon connects when it starts
	// and keeps up.
	Autoconnect []string
	// ProfilesDir holds the system profiles (NAME.ovpn, root-owned).
	ProfilesDir string
	// AllowUserProfiles is false when users may not import, rename or
	// remove profiles of their own.
	AllowUserProfiles bool
	// MaxConnections is how many connections the daemon runs at once; 0
	// leaves the daemon's default.
	MaxConnections int
	// BlockWhenDown forces blocking traffic outside the tunnel while it is
	// down, for every connection.
	BlockWhenDown bool
	// AdminGroups are the groups whose members control every connection;
	// nil when the file does not say (the daemon's default or its
	// --admin-groups flag apply).
	AdminGroups []string
}

// Default is the policy of a machine without a policy file.
func Default() Policy {
	return Policy{
		ClientRouteEnforcement: EnforcementEndpoint,
		ProfilesDir:            DefaultProfilesDir(),
		AllowUserProfiles:      true,
	}
}

// ForceEnforcement reports whether the policy forces client route
// enforcement on.
func (p Policy) ForceEnforcement() bool { return p.ClientRouteEnforcement == EnforcementForce }

// Autoconnects reports whether name is one of the autoconnect profiles.
func (p Policy) Autoconnects(name string) bool {
	for _, n := range p.Autoconnect {
		if n == name {
			return true
		}
	}
	return false
}

// Resolve picks the policy file: flag when set, else $CVPN_POLICY, else
// DefaultPath.
func Resolve(flag string) string {
	if flag != "" {
		return flag
	}
	if e := os.Getenv(EnvPolicy); e != "" {
		return e
	}
	return DefaultPath()
}

// loadFile reads the policy file at path. A missing file is Default.
func loadFile(path string) (Policy, error) {
	p := Default()
	p.Path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("policy file: %w", err)
	}
	p.Found = true
	return parse(p, path, string(data))
}

// Parse reads policy text; path only names it in errors.
func Parse(path, text string) (Policy, error) {
	p := Default()
	p.Path, p.Found = path, true
	return parse(p, path, text)
}

func parse(p Policy, path, text string) (Policy, error) {
	var raw map[string]any
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return p, fmt.Errorf("policy file %s: %w", path, err)
	}
	for _, k := range md.Keys() {
		key := k[0]
		at := fmt.Sprintf("policy file %s:%d: %s", path, keyLine(text, key), key)
		if len(k) > 1 {
			continue // reported with its table below
		}
		if err := p.set(key, raw[key]); err != nil {
			return failed(p), fmt.Errorf("%s: %w", at, err)
		}
		p.from(key, "file "+path)
	}
	return p, nil
}

// keys lists the keys the file may hold, for the unknown-key error.
var keys = []string{"client_route_enforcement", "autoconnect", "profiles_dir", "allow_user_profiles",
	"max_connections", "block_when_down", "admin_groups"}

func (p *Policy) set(key string, v any) error {
	switch key {
	case "client_route_enforcement":
		s, ok := v.(string)
		if !ok || (s != EnforcementEndpoint && s != EnforcementForce) {
			return fmt.Errorf("want %q or %q, not %s", EnforcementEndpoint, EnforcementForce, show(v))
		}
		p.ClientRouteEnforcement = s
	case "autoconnect":
		names, err := strings1(v)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, n := range names {
			if err := profilestore.ValidateName(n); err != nil {
				return err
			}
			if seen[n] {
				return fmt.Errorf("%q is listed twice", n)
			}
			seen[n] = true
		}
		p.Autoconnect = names
	case "profiles_dir":
		s, ok := v.(string)
		if !ok || !filepath.IsAbs(s) {
			return fmt.Errorf("want an absolute folder path, not %s", show(v))
		}
		p.ProfilesDir = filepath.Clean(s)
	case "allow_user_profiles", "block_when_down":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false, not %s", show(v))
		}
		if key == "allow_user_profiles" {
			p.AllowUserProfiles = b
		} else {
			p.BlockWhenDown = b
		}
	case "max_connections":
		n, ok := v.(int64)
		if !ok || n < 1 || n > MaxConnectionsLimit {
			return fmt.Errorf("want a whole number from 1 to %d, not %s", MaxConnectionsLimit, show(v))
		}
		p.MaxConnections = int(n)
	case "admin_groups":
		gs, err := strings1(v)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g == "" || strings.ContainsAny(g, ", \t\n") {
				return fmt.Errorf("%q is not a group name", g)
			}
		}
		p.AdminGroups = append([]string{}, gs...)
	default:
		return fmt.Errorf("unknown key (known keys: %s)", strings.Join(keys, ", "))
	}
	return nil
}

// strings1 converts a TOML array of strings.
func strings1(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of strings like [\"a\", \"b\"], not %s", show(v))
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, but it holds %s", show(e))
		}
		out = append(out, s)
	}
	return out, nil
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a table"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%v", v)
	}
}

// keyLine finds the line of a top-level key (or table header) in text; 0
// when it cannot tell.
func keyLine(text, key string) int {
	q := regexp.QuoteMeta(key)
	re := regexp.MustCompile(`^\s*(?:` + q + `|"` + q + `"|'` + q + `')\s*=|^\s*\[\[?\s*(?:` + q + `|"` + q + `")\s*[\].]`)
	for i, line := range strings.Split(text, "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}
