package profilestore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cvpn/cvpn/internal/atomicfile"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// EnvHome is the environment variable that overrides the data root.
const EnvHome = "CVPN_HOME"

// MaxNameLen is the longest profile name.
const MaxNameLen = 64

const (
	dirMode  = 0o700
	fileMode = 0o600
	ext      = ".ovpn"
)

var (
	// ErrNotFound is returned (wrapped) for a name that is not stored.
	ErrNotFound = errors.New("profile not found")
	// ErrExists is returned (wrapped) when importing over an existing name.
	ErrExists = errors.New("profile already exists")
)

// DefaultRoot returns the per-user data root: $CVPN_HOME when set,
// otherwise os.UserConfigDir()/cvpn (~/.config/cvpn on Linux).
func DefaultRoot() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		return h, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the user config directory (set %s): %w", EnvHome, err)
	}
	return filepath.Join(d, "cvpn"), nil
}

// Options configure a Store.
type Options struct {
	// Now is the clock for certificate checks and import times; nil is time.Now.
	Now func() time.Time
	// Logger receives one line per import and removal; nil discards.
	Logger *slog.Logger
}

// Store is the profile folder ROOT/profiles.
type Store struct {
	dir    string
	now    func() time.Time
	log    *slog.Logger
	system bool // a read-only folder of system profiles (OpenSystem)
}

// Open opens the store under a data root, creating ROOT/profiles with mode
// 0700 (and tightening it if it exists with wider permissions).
func Open(root string, opts Options) (*Store, error) {
	if root == "" {
		return nil, errors.New("profile store: empty data root")
	}
	dir := filepath.Join(root, "profiles")
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("profile store: %w", err)
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, fmt.Errorf("profile store: %w", err)
	}
	s := &Store{dir: dir, now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Dir returns the folder the profiles are stored in.
func (s *Store) Dir() string { return s.dir }

// Entry describes one stored profile for "cvpn profile list --json".
type Entry struct {
	// Name is the stored name (the file name without .ovpn).
	Name string `json:"name"`
	// Path is the stored file.
	Path string `json:"path"`
	// Modified is when the file was written (the import time).
	Modified time.Time `json:"modified"`
	// Remotes are the servers as "host:port/proto".
	Remotes []string `json:"remotes"`
	// Auth lists the authentication methods (certificate, user-pass,
	// static-challenge, federated).
	Auth []string `json:"auth"`
	// Usable is false when the stored profile no longer checks clean
	// (for example its certificate has expired since the import).
	Usable bool `json:"usable"`
	// Managed marks a system profile: the administrator's, read-only.
	Managed bool `json:"managed"`
	// HidesUserProfile is set on a system profile when the user also has
	// a profile of that name: the system one wins (see Merge).
	HidesUserProfile bool `json:"hides_user_profile,omitempty"`
}

// ValidateName checks a profile name: 1 to 64 letters, digits, '.', '_'
// or '-', not starting with '.' or '-'.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("the profile name is empty")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("the profile name %q is longer than %d characters", name, MaxNameLen)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("the profile name %q must not start with %q", name, name[0])
	}
	for _, c := range name {
		if !validNameChar(c) {
			return fmt.Errorf("the profile name %q contains %q; use letters, digits, '.', '_' and '-'", name, c)
		}
	}
	return nil
}

func validNameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// NameFromPath derives a profile name from a file name: the base name
// without extension, other characters replaced by '-'.
func NameFromPath(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	var b strings.Builder
	for _, c := range base {
		if validNameChar(c) {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.TrimLeft(b.String(), ".-")
	if len(name) > MaxNameLen {
		name = name[:MaxNameLen]
	}
	if name == "" {
		name = "profile"
	}
	return name
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name+ext) }

// ImportFile validates the profile at path and stores a self-contained
// copy under name (NameFromPath(path) when empty). See Import.
func (s *Store) ImportFile(path, name string) (Entry, profile.Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Entry{}, nil, err
	}
	if name == "" {
		name = NameFromPath(path)
	}
	return s.Import(data, path, filepath.Dir(path), name)
}

// Import validates profile text (source names it in diagnostics, baseDir
// resolves relative file references) and stores a self-contained copy
// under name. A profile with errors is refused with a
// *profile.ProfileError and nothing is written; an existing name is
// refused with an error wrapping ErrExists. The returned diagnostics are
// the warnings of the profile plus import notes (a credentials file named
// by auth-user-pass is not copied).
func (s *Store) Import(data []byte, source, baseDir, name string) (Entry, profile.Diagnostics, error) {
	if s.system {
		return Entry{}, nil, errSystem(name)
	}
	if err := ValidateName(name); err != nil {
		return Entry{}, nil, fmt.Errorf("%w (choose another with --name NAME)", err)
	}
	p, ds := profile.Parse(data, profile.Options{Name: source, BaseDir: baseDir, Now: s.now})
	if err := ds.Err(); err != nil {
		return Entry{}, ds, err
	}
	if p.AuthUserPassFile != "" {
		line := 0
		for _, d := range p.Directives {
			if d.Name == "auth-user-pass" {
				line = d.Line
			}
		}
		ds = append(ds, profile.Diagnostic{File: source, Line: line, Severity: profile.SeverityWarning,
			Message: "the credentials file of auth-user-pass is not copied into the stored profile; pass it with cvpn connect --auth-user-pass FILE or type the password when asked"})
	}
	if _, err := os.Lstat(s.path(name)); err == nil {
		return Entry{}, ds, existsError(name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# cvpn profile %s, imported from %s on %s\n", name, sanitizeComment(source), s.now().UTC().Format(time.RFC3339))
	b.WriteString("# Self-contained copy: referenced files are inlined. Edit with care.\n")
	b.Write(profile.Serialize(p))
	if err := s.writeNew(name, []byte(b.String())); err != nil {
		return Entry{}, ds, err
	}
	s.log.Info("profile imported", "name", name, "remotes", len(p.Remotes))
	e, err := s.entry(name)
	return e, ds, err
}

func existsError(name string) error {
	return fmt.Errorf("%w: %q; choose another name with --name NAME or remove it first with: cvpn profile remove %s", ErrExists, name, name)
}

func sanitizeComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// writeNew writes NAME.ovpn atomically and never replaces an existing file.
func (s *Store) writeNew(name string, data []byte) error {
	err := atomicfile.Write(s.path(name), data, atomicfile.Options{
		Mode:        fileMode,
		TempPattern: ".import-*.tmp",
		Sync:        true,
		SyncDir:     true,
		NoReplace:   true, // a concurrent import of the same name is not overwritten
	})
	if errors.Is(err, fs.ErrExist) {
		return existsError(name)
	}
	if err != nil {
		return fmt.Errorf("profile store: %w", err)
	}
	return nil
}

// Read returns the stored profile text.
func (s *Store) Read(name string) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(name)
	}
	return data, err
}

func notFound(name string) error {
	return fmt.Errorf("%w: %q (see cvpn profile list)", ErrNotFound, name)
}

// Load parses a stored profile. File references are refused (stored
// profiles are self-contained).
func (s *Store) Load(name string) (*profile.Profile, profile.Diagnostics, error) {
	data, err := s.Read(name)
	if err != nil {
		return nil, nil, err
	}
	p, ds := profile.Parse(data, profile.Options{Name: s.path(name), NoFiles: true, Now: s.now})
	p.Name = name
	return p, ds, nil
}

func (s *Store) entry(name string) (Entry, error) {
	fi, err := os.Stat(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, notFound(name)
	}
	if err != nil {
		return Entry{}, err
	}
	p, ds, err := s.Load(name)
	if s.system && errors.Is(err, fs.ErrPermission) {
		// A root-only system profile: the daemon reads it.
		return Entry{Name: name, Path: s.path(name), Modified: fi.ModTime().UTC(), Remotes: []string{}, Auth: []string{}, Usable: true, Managed: true}, nil
	}
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Name: name, Path: s.path(name), Modified: fi.ModTime().UTC(), Remotes: []string{}, Auth: p.Auth.Names(), Usable: !ds.HasErrors(), Managed: s.system}
	for _, r := range p.Remotes {
		e.Remotes = append(e.Remotes, r.String())
	}
	if e.Auth == nil {
		e.Auth = []string{}
	}
	return e, nil
}

// Get describes one stored profile.
func (s *Store) Get(name string) (Entry, error) {
	if err := ValidateName(name); err != nil {
		return Entry{}, err
	}
	return s.entry(name)
}

// List describes every stored profile, sorted by name (never nil).
func (s *Store) List() ([]Entry, error) {
	des, err := os.ReadDir(s.dir)
	if s.system && errors.Is(err, fs.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profile store: %w", err)
	}
	out := []Entry{}
	for _, de := range des {
		n := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(n, ext) {
			continue
		}
		name := strings.TrimSuffix(n, ext)
		if ValidateName(name) != nil {
			continue
		}
		e, err := s.entry(name)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a stored profile.
func (s *Store) Remove(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if s.system {
		return errSystem(name)
	}
	if err := os.Remove(s.path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound(name)
		}
		return fmt.Errorf("profile store: %w", err)
	}
	if err := os.Remove(s.settingsPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("profile store: %w", err)
	}
	s.log.Info("profile removed", "name", name)
	return atomicfile.SyncDir(s.dir)
}

// Details is the JSON document printed by "cvpn profile show --json": the
// list entry plus the profile summary (no key material) and the current
// diagnostics of the stored copy.
type Details struct {
	Entry
	Profile     profile.Summary      `json:"profile"`
	Diagnostics []profile.Diagnostic `json:"diagnostics"`
}

// Show describes one stored profile in full.
func (s *Store) Show(name string) (Details, error) {
	e, err := s.Get(name)
	if err != nil {
		return Details{}, err
	}
	p, ds, err := s.Load(name)
	if err != nil {
		return Details{}, err
	}
	d := Details{Entry: e, Profile: p.Summary(), Diagnostics: ds}
	if d.Diagnostics == nil {
		d.Diagnostics = []profile.Diagnostic{}
	}
	return d, nil
}
