package gui

import (
	"bytes"
	"fmt"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// StoreProfiles implements Profiles over a profilestore.Store.
type StoreProfiles struct {
	Store *profilestore.Store
}

// List implements Profiles.
func (s StoreProfiles) List() ([]profilestore.Entry, error) { return s.Store.List() }

// Import implements Profiles.
func (s StoreProfiles) Import(path, name string) (profilestore.Entry, profile.Diagnostics, error) {
	return s.Store.ImportFile(path, name)
}

// Remove implements Profiles.
func (s StoreProfiles) Remove(name string) error { return s.Store.Remove(name) }

// Show implements Profiles.
func (s StoreProfiles) Show(name string) (profilestore.Details, error) { return s.Store.Show(name) }

// Rename stores the profile under the new name and then removes the old
// copy, so a failure leaves at least one copy behind.
func (s StoreProfiles) Rename(oldName, newName string) error {
	if oldName == newName {
		return nil
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
