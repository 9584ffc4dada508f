package profilestore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemProfilesAreReadOnlyAndWinOnClash(t *testing.T) {
	user, _ := newStore(t)
	if _, _, err := user.ImportFile(filepath.Join(profiles, "good", "aws-ad.ovpn"), "corp"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := user.ImportFile(filepath.Join(profiles, "good", "aws-ad.ovpn"), "mine"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(profiles, "good", "aws-mutual.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	// A system profile is self-contained, as cvpn profile import writes it.
	sys0, _ := newStore(t)
	if _, _, err := sys0.Import(data, "aws-mutual.ovpn", filepath.Join(profiles, "good"), "corp"); err != nil {
		t.Fatal(err)
	}
	text, _ := sys0.Read("corp")
	if err := os.WriteFile(filepath.Join(dir, "corp.ovpn"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	sys := OpenSystem(dir, Options{})
	sl, err := sys.List()
	if err != nil || len(sl) != 1 || !sl[0].Managed || sl[0].Name != "corp" {
		t.Fatalf("system List = %+v, %v; want one managed profile corp", sl, err)
	}
	ul, _ := user.List()
	merged := Merge(sl, ul)
	if len(merged) != 2 || merged[0].Name != "corp" || !merged[0].Managed || !merged[0].HidesUserProfile ||
		merged[1].Name != "mine" || merged[1].Managed {
		t.Fatalf("Merge = %+v; want managed corp hiding the user's corp, then mine", merged)
	}
	err = sys.Remove("corp")
	if !errors.Is(err, ErrManaged) || !strings.Contains(err.Error(), `"corp" is a system profile`) {
		t.Errorf("Remove of a system profile: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "corp.ovpn")); err != nil {
		t.Errorf("the system profile is gone: %v", err)
	}
	if _, _, err := sys.Import(text, "x", "", "other"); !errors.Is(err, ErrManaged) {
		t.Errorf("Import into the system folder: %v", err)
	}
	if l, err := OpenSystem(filepath.Join(dir, "missing"), Options{}).List(); err != nil || len(l) != 0 {
		t.Errorf("missing system folder: %v, %v; want an empty list", l, err)
	}
}

func TestSettingsStoredBesideTheProfile(t *testing.T) {
	s, _ := newStore(t)
	if _, _, err := s.ImportFile(filepath.Join(profiles, "good", "aws-ad.ovpn"), "work"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Settings("work"); err != nil || st != DefaultSettings() || !st.ReconnectAfterResume {
		t.Fatalf("default settings %+v, %v", st, err)
	}
	want := Settings{ConnectAtLogin: true, ReconnectAfterResume: false}
	if err := s.SetSettings("work", want); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Settings("work"); err != nil || st != want {
		t.Fatalf("settings %+v, %v; want %+v", st, err, want)
	}
	if l, _ := s.List(); len(l) != 1 {
		t.Errorf("the settings file shows up as a profile: %+v", l)
	}
	if err := s.SetSettings("none", want); !errors.Is(err, ErrNotFound) {
		t.Errorf("settings of a missing profile: %v", err)
	}
	if err := s.Remove("work"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "work.settings.json")); !os.IsNotExist(err) {
		t.Errorf("settings left after remove: %v", err)
	}
}
