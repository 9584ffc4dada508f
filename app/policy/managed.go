package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ManagedDomain is the macOS preference domain of the policy: a
// configuration profile whose payload has this PayloadType becomes
// /Library/Managed Preferences/io.github.cvpn.plist. It is the app's
// bundle identifier (packaging/macos/Info.plist.in).
const ManagedDomain = "io.github.cvpn"

// RegistryKey is the Windows policy key under HKEY_LOCAL_MACHINE that a
// GPO (the ADMX template), Intune or the MSI's properties write.
const RegistryKey = `SOFTWARE\Policies\cvpn\cvpn`

// A Source is a policy store an MDM or GPO manages (the Windows registry,
// macOS managed preferences). Its values win over the policy file's, key
// by key.
type Source interface {
	// Name says where the values are, for errors and diagnostics, e.g.
	// `registry HKLM\SOFTWARE\Policies\cvpn\cvpn`.
	Name() string
	// Entry is what one setting is called there ("value" in the
	// registry, "key" in a plist), for errors.
	Entry() string
	// Read returns the settings present, by the policy key name. Values
	// are string, bool, int64, uint64, []string or []any. A store that
	// does not exist is (nil, nil).
	Read() (map[string]any, error)
}

// Load reads the policy file at path and the machine's managed source
// (OSSource). A missing file and no managed settings is Default. A file
// or managed setting that cannot be used is an error naming where it is
// and the key: silently ignoring an administrator's policy would be worse
// than refusing to start.
func Load(path string) (Policy, error) { return LoadWith(path, OSSource()) }

// LoadWith is Load with the managed source given (nil: none).
//
// Precedence, key by key: a key the managed source sets wins over the
// file's, whichever file (--policy, $CVPN_POLICY or the OS default) was
// read; keys neither sets keep their defaults. A GPO or an MDM is the
// organisation's central decision, and Windows and macOS treat their
// policy stores as binding over local settings: a local file, a flag or an
// environment variable must not undo it. The file still fills in what the
// managed source leaves unset.
func LoadWith(path string, managed Source) (Policy, error) {
	p, err := loadFile(path)
	if err != nil || managed == nil {
		return p, err
	}
	vals, err := managed.Read()
	if err != nil {
		return failed(p), fmt.Errorf("policy from %s: %w", managed.Name(), err)
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := p.set(k, normalize(k, vals[k])); err != nil {
			return failed(p), fmt.Errorf("policy from %s: %s %s: %w", managed.Name(), managed.Entry(), k, err)
		}
		p.from(k, managed.Name())
		p.Managed = managed.Name()
	}
	return p, nil
}

// failed is the policy returned with an error: the defaults, naming what
// was read.
func failed(p Policy) Policy {
	d := Default()
	d.Path, d.Found = p.Path, p.Found
	return d
}

func (p *Policy) from(key, where string) {
	if p.From == nil {
		p.From = map[string]string{}
	}
	p.From[key] = where
}

// normalize turns what a registry or plist holds into what the file's
// TOML would: 1/0 and "1"/"0"/"true"/"false" for true and false (a GPO
// writes REG_DWORD 1 or 0; the MSI writes its properties as strings), a
// decimal string for a number, a comma-separated string or a string list
// for a list. Anything else is passed on for set to refuse.
func normalize(key string, v any) any {
	if u, ok := v.(uint64); ok && u <= 1<<62 {
		v = int64(u)
	}
	if ss, ok := v.([]string); ok {
		l := make([]any, len(ss))
		for i, s := range ss {
			l[i] = s
		}
		v = l
	}
	switch key {
	case "allow_user_profiles", "block_when_down":
		switch x := v.(type) {
		case int64:
			if x == 0 || x == 1 {
				return x == 1
			}
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "1", "true":
				return true
			case "0", "false":
				return false
			}
		}
	case "max_connections":
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return n
			}
		}
	case "autoconnect", "admin_groups":
		if s, ok := v.(string); ok {
			l := []any{}
			for _, e := range strings.Split(s, ",") {
				if e = strings.TrimSpace(e); e != "" {
					l = append(l, e)
				}
			}
			return l
		}
	}
	return v
}

// Describe lists every key with its value and where it came from (the
// file, the managed source or the default), one a line, for diagnostics.
func (p Policy) Describe() string {
	var b strings.Builder
	file := "no policy file at " + p.Path
	if p.Found {
		file = "policy file " + p.Path
	}
	managed := "no managed (MDM/GPO) settings"
	if p.Managed != "" {
		managed = "managed settings from " + p.Managed + " (they win key by key)"
	}
	fmt.Fprintf(&b, "%s\n%s\n", file, managed)
	vals := map[string]string{
		"client_route_enforcement": strconv.Quote(p.ClientRouteEnforcement),
		"autoconnect":              quoteList(p.Autoconnect),
		"profiles_dir":             strconv.Quote(p.ProfilesDir),
		"allow_user_profiles":      strconv.FormatBool(p.AllowUserProfiles),
		"max_connections":          strconv.Itoa(p.MaxConnections),
		"block_when_down":          strconv.FormatBool(p.BlockWhenDown),
		"admin_groups":             quoteList(p.AdminGroups),
	}
	for _, k := range keys {
		v := vals[k]
		if k == "max_connections" && p.MaxConnections == 0 {
			v = "(the daemon's default)"
		}
		if k == "admin_groups" && p.AdminGroups == nil {
			v = "(the daemon's default or --admin-groups)"
		}
		where := p.From[k]
		if where == "" {
			where = "default"
		}
		fmt.Fprintf(&b, "%s = %s  # from %s\n", k, v, where)
	}
	return b.String()
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
