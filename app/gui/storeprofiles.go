package gui

import (
	"bytes"
	"fmt"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// StoreProfiles implements Profiles over the user's profilestore.Store
// and, when the policy names one, the read-only folder of system profiles.
type StoreProfiles struct {
	Store *profilestore.Store
	// System is the administrator's profiles (profilestore.OpenSystem of
	// the policy's profiles_dir); nil for none. On a name clash the
	// system profile wins.
	System *profilestore.Store
	// UserProfilesOff is the policy's allow_user_profiles = false: import,
	// rename and remove are refused (and hidden by the UI).
	UserProfilesOff bool
}

// List implements Profiles: system and user profiles, system first on a
// name clash (marked HidesUserProfile).
func (s StoreProfiles) List() ([]profilestore.Entry, error) {
	user, err := s.Store.List()
	if err != nil || s.System == nil {
		return user, err
	}
	sys, err := s.System.List()
	if err != nil {
		return nil, fmt.Errorf("system profiles: %w", err)
	}
	return profilestore.Merge(sys, user), nil
}

// Managed reports whether name is a system profile (read-only).
func (s StoreProfiles) Managed(name string) bool { return s.System != nil && s.System.Has(name) }

// UserProfilesAllowed reports whether the user may import, rename and
// remove profiles.
func (s StoreProfiles) UserProfilesAllowed() bool { return !s.UserProfilesOff }

func (s StoreProfiles) mayChange(action, name string) error {
	if s.Managed(name) {
		return profilestore.SystemProfileError(name)
	}
	if s.UserProfilesOff {
		return profilestore.ErrUserProfilesOff(action)
	}
	return nil
}

// Import implements Profiles.
func (s StoreProfiles) Import(path, name string) (profilestore.Entry, profile.Diagnostics, error) {
	if name == "" {
		name = profilestore.NameFromPath(path)
	}
	if err := s.mayChange("import", name); err != nil {
		return profilestore.Entry{}, nil, err
	}
	return s.Store.ImportFile(path, name)
}

// Remove implements Profiles.
func (s StoreProfiles) Remove(name string) error {
	if err := s.mayChange("remove", name); err != nil {
		return err
	}
	return s.Store.Remove(name)
}

// Show implements Profiles.
func (s StoreProfiles) Show(name string) (profilestore.Details, error) {
	if s.Managed(name) {
		return s.System.Show(name)
	}
	return s.Store.Show(name)
}

// Read returns a profile's text for a connect request; nil for a system
// profile, which the daemon reads itself.
func (s StoreProfiles) Read(name string) ([]byte, error) {
	if s.Managed(name) {
		return nil, nil
	}
	return s.Store.Read(name)
}

// Settings implements Profiles (defaults for a system profile).
func (s StoreProfiles) Settings(name string) (profilestore.Settings, error) {
	if s.Managed(name) {
		return profilestore.DefaultSettings(), nil
	}
	return s.Store.Settings(name)
}

// SetSettings implements Profiles.
func (s StoreProfiles) SetSettings(name string, st profilestore.Settings) error {
	if s.Managed(name) {
		return s.System.SetSettings(name, st)
	}
	return s.Store.SetSettings(name, st)
}

// Rename stores the profile under the new name and then removes the old
// copy, so a failure leaves at least one copy behind.
func (s StoreProfiles) Rename(oldName, newName string) error {
	if oldName == newName {
		return nil
	}
	if err := s.mayChange("rename", oldName); err != nil {
		return err
	}
	if err := s.mayChange("rename", newName); err != nil {
		return err
	}
	if err := profilestore.ValidateName(newName); err != nil {
		return err
	}
	data, err := s.Store.Read(oldName)
	if err != nil {
		return err
	}
	if _, _, err := s.Store.Import(stripHeader(data), s.Store.Dir()+"/"+oldName+".ovpn", s.Store.Dir(), newName); err != nil {
		return fmt.Errorf("renaming %q to %q: %w", oldName, newName, err)
	}
	if st, err := s.Store.Settings(oldName); err == nil {
		_ = s.Store.SetSettings(newName, st) // best effort: defaults otherwise
	}
	return s.Store.Remove(oldName)
}

// stripHeader drops the leading "# cvpn profile" comment lines the store
// writes, so a renamed copy does not accumulate them.
func stripHeader(data []byte) []byte {
	for bytes.HasPrefix(data, []byte("# cvpn profile ")) || bytes.HasPrefix(data, []byte("# Self-contained copy")) {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		data = data[i+1:]
	}
	return data
}
