package profilestore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"
)

// ErrManaged is returned (wrapped) when a user tries to change a system
// profile or, under a policy with allow_user_profiles = false, a profile
// of their own.
var ErrManaged = errors.New("profiles are managed by the administrator")

// SystemProfileError is the error of changing the system profile name.
func SystemProfileError(name string) error { return errSystem(name) }

func errSystem(name string) error {
	return fmt.Errorf("%w: %q is a system profile (from the cvpn policy's profiles_dir); it cannot be imported over, renamed or removed here", ErrManaged, name)
}

// ErrUserProfilesOff is the error of import, rename and remove when the
// policy says allow_user_profiles = false.
func ErrUserProfilesOff(action string) error {
	return fmt.Errorf("%w: the cvpn policy file sets allow_user_profiles = false, so you cannot %s profiles; ask your IT department", ErrManaged, action)
}

// OpenSystem opens the read-only folder of system profiles (the policy's
// profiles_dir, root-owned). A missing folder lists no profiles; nothing
// is ever written there.
func OpenSystem(dir string, opts Options) *Store {
	s := &Store{dir: dir, now: opts.Now, log: opts.Logger, system: true}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// System reports whether this is a folder of system profiles.
func (s *Store) System() bool { return s.system }

// Has reports whether the folder holds a profile name.
func (s *Store) Has(name string) bool {
	if ValidateName(name) != nil {
		return false
	}
	_, err := os.Stat(s.path(name))
	return err == nil
}

// Merge lists system and user profiles together, sorted by name: on a
// name clash the system profile wins and is marked HidesUserProfile.
func Merge(system, user []Entry) []Entry {
	out := make([]Entry, 0, len(system)+len(user))
	names := map[string]int{}
	for _, e := range system {
		names[e.Name] = len(out)
		out = append(out, e)
	}
	for _, e := range user {
		if i, ok := names[e.Name]; ok {
			out[i].HidesUserProfile = true
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
