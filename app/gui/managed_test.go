package gui_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/gui/guitest"
	"github.com/cvpn/cvpn/app/profilestore"
)

// systemDir is a folder of system profiles holding corp (a self-contained
// copy of a fixture, as an administrator installs it).
func systemDir(t *testing.T) string {
	t.Helper()
	tmp, err := profilestore.Open(t.TempDir(), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tmp.ImportFile(filepath.Join(profiles, "good", "aws-mutual.ovpn"), "corp"); err != nil {
		t.Fatal(err)
	}
	text, _ := tmp.Read("corp")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "corp.ovpn"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// visibleButton finds a visible button by text in the main window.
func visibleButton(u *gui.UI, text string) *widget.Button {
	return button(u.Window().Content(), text)
}

func TestManagedProfilesAreReadOnly(t *testing.T) {
	a := test.NewTempApp(t)
	store, err := profilestore.Open(t.TempDir(), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ImportFile(filepath.Join(profiles, "good", "aws-ad.ovpn"), "mine"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.ImportFile(filepath.Join(profiles, "good", "aws-ad.ovpn"), "corp"); err != nil {
		t.Fatal(err)
	}
	fake := guitest.New(store, nil)
	fake.System = profilestore.OpenSystem(systemDir(t), profilestore.Options{})
	u := gui.New(a, fake, gui.Options{})
	if err := u.UseSyncForTest(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	u.Window().Resize(fyne.NewSize(860, 540))

	if got := strings.Join(u.ProfileNames(), ","); got != "corp,mine" {
		t.Fatalf("profiles %q, want the system corp (hiding the user's) and mine", got)
	}
	u.Select("corp")
	content := texts(u.Window().Content())
	if !strings.Contains(content, "Managed by your administrator") || !strings.Contains(content, "Managed, replaces your profile of this name · Not connected") {
		t.Errorf("a managed profile is not marked:\n%s", content)
	}
	if visibleButton(u, "Remove") != nil || visibleButton(u, "Rename") != nil {
		t.Error("Remove/Rename shown for a managed profile")
	}
	if err := fake.Remove("corp"); err == nil || !strings.Contains(err.Error(), `"corp" is a system profile`) {
		t.Errorf("removing a managed profile: %v", err)
	}
	// Connecting a managed profile sends no text: the daemon reads it.
	test.Tap(u.ToggleButton())
	if calls := strings.Join(fake.Calls(), ";"); calls != "connect corp" {
		t.Errorf("calls %q", calls)
	}

	u.Select("mine")
	if visibleButton(u, "Remove") == nil || visibleButton(u, "Import profile") == nil {
		t.Error("Remove/Import hidden although the policy allows user profiles")
	}

	// allow_user_profiles = false: import, rename, remove are gone and an
	// import (drop) is refused with the reason.
	fake.UserProfilesOff = true
	u.Select("corp")
	u.Select("mine")
	if visibleButton(u, "Remove") != nil || visibleButton(u, "Rename") != nil || visibleButton(u, "Import profile") != nil {
		t.Error("import/rename/remove shown with allow_user_profiles = false")
	}
	if !strings.Contains(texts(u.Window().Content()), "Profiles are managed by your administrator") {
		t.Error("the list does not say profiles are managed")
	}
	u.ImportURIs([]fyne.URI{fileURI(t, "good/aws-mutual.ovpn")})
	if o := u.Window().Canvas().Overlays().Top(); o == nil || !strings.Contains(texts(o), "Profiles are managed by your administrator") {
		t.Error("a dropped profile was not refused with the reason")
	}
	if got := strings.Join(u.ProfileNames(), ","); got != "corp,mine" {
		t.Errorf("profiles after a refused import %q", got)
	}
}

func TestConnectWhenILogIn(t *testing.T) {
	dataRoot := t.TempDir()
	store, err := profilestore.Open(dataRoot, profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"work", "lab"} {
		if _, _, err := store.ImportFile(filepath.Join(profiles, "good", "aws-mutual.ovpn"), n); err != nil {
			t.Fatal(err)
		}
	}
	a := test.NewTempApp(t)
	fake := guitest.New(store, nil)
	u := gui.New(a, fake, gui.Options{})
	if err := u.UseSyncForTest(); err != nil {
		t.Fatal(err)
	}
	u.Window().Resize(fyne.NewSize(860, 540))
	u.Select("work")
	var login, resume *widget.Check
	walk(u.Window().Content(), func(o fyne.CanvasObject) {
		if c, ok := o.(*widget.Check); ok {
			switch c.Text {
			case "Connect when I log in":
				login = c
			case "Reconnect after the computer wakes up":
				resume = c
			}
		}
	})
	if login == nil || resume == nil {
		t.Fatal("no per-profile login/resume options")
	}
	if login.Checked || !resume.Checked {
		t.Errorf("defaults: login %v resume %v; want off, on", login.Checked, resume.Checked)
	}
	test.Tap(login)
	test.Tap(resume)
	if st, err := store.Settings("work"); err != nil || !st.ConnectAtLogin || st.ReconnectAfterResume {
		t.Fatalf("stored settings %+v, %v", st, err)
	}
	u.Stop()

	// The app started by the login entry connects work, not lab, once the
	// daemon's status is known.
	fake2 := guitest.New(store, nil)
	u2 := gui.New(test.NewTempApp(t), fake2, gui.Options{AtLogin: true, PollInterval: time.Hour})
	t.Cleanup(u2.Stop)
	u2.StartFollowForTest()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(fake2.Calls(), ";"), "connect work") && time.Now().Before(deadline) {
		u2.Drain()
		time.Sleep(5 * time.Millisecond)
	}
	u2.Drain()
	if calls := strings.Join(fake2.Calls(), ";"); calls != "connect work" {
		t.Errorf("calls at login %q, want only work connected", calls)
	}
}

func TestSaveDiagnosticsButton(t *testing.T) {
	a := test.NewTempApp(t)
	store, err := profilestore.Open(t.TempDir(), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	saved := 0
	u := gui.New(a, guitest.New(store, nil), gui.Options{SaveDiagnostics: func(context.Context) (string, error) {
		saved++
		return "/home/me/cvpn-diagnostics-20261207-010000.zip", nil
	}})
	if err := u.UseSyncForTest(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	u.TypeShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyComma, Modifier: fyne.KeyModifierShortcutDefault})
	o := u.Window().Canvas().Overlays().Top()
	b := button(o, "Save diagnostics…")
	if b == nil {
		t.Fatalf("no Save diagnostics button in:\n%s", texts(o))
	}
	test.Tap(b)
	u.Drain()
	o = u.Window().Canvas().Overlays().Top()
	if saved != 1 || o == nil || !strings.Contains(texts(o), "/home/me/cvpn-diagnostics-20261207-010000.zip") {
		t.Errorf("after Save diagnostics: saved %d, dialog %q", saved, texts(o))
	}
}

func fileURI(t *testing.T, rel string) fyne.URI {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(profiles, rel))
	if err != nil {
		t.Fatal(err)
	}
	return storage.NewFileURI(path)
}

// TestManagedAutoconnectAskedByTheApp: an autoconnect profile the daemon
// could not connect alone (it needs the user) is connected by the app at
// its first status, so the user is asked; one already open is left alone.
func TestManagedAutoconnectAskedByTheApp(t *testing.T) {
	store, err := profilestore.Open(t.TempDir(), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := systemDir(t)
	text, _ := os.ReadFile(filepath.Join(dir, "corp.ovpn"))
	if err := os.WriteFile(filepath.Join(dir, "up.ovpn"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	fake := guitest.New(store, nil)
	fake.System = profilestore.OpenSystem(dir, profilestore.Options{})
	fake.ConnectScript("up", "vpn.lab.test:443/udp", "10.100.0.9") // already up (the daemon's)
	u := gui.New(test.NewTempApp(t), fake, gui.Options{ManagedAutoconnect: []string{"corp", "up"}, PollInterval: time.Hour})
	t.Cleanup(u.Stop)
	u.StartFollowForTest()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(fake.Calls(), ";"), "connect corp") && time.Now().Before(deadline) {
		u.Drain()
		time.Sleep(5 * time.Millisecond)
	}
	u.Drain()
	if calls := strings.Join(fake.Calls(), ";"); calls != "connect corp" {
		t.Errorf("calls %q, want only corp connected by the app", calls)
	}
}

// TestManagedAutoconnectLeftToTheActiveSession: an app that the daemon
// says is not in the active desktop session (a switched-away user) shows
// the managed profile but does not connect it; after the first status and
// the daemon's answer no connect call was made.
func TestManagedAutoconnectLeftToTheActiveSession(t *testing.T) {
	store, err := profilestore.Open(t.TempDir(), profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fake := guitest.New(store, nil)
	fake.System = profilestore.OpenSystem(systemDir(t), profilestore.Options{})
	asked := make(chan struct{}, 1)
	fake.Desktop = func() (bool, string, error) {
		select {
		case asked <- struct{}{}:
		default:
		}
		return false, "session 3 is not the active session of its seat", nil
	}
	u := gui.New(test.NewTempApp(t), fake, gui.Options{ManagedAutoconnect: []string{"corp"}, PollInterval: time.Hour})
	t.Cleanup(u.Stop)
	u.StartFollowForTest()
	deadline := time.Now().Add(5 * time.Second)
	for len(asked) == 0 && time.Now().Before(deadline) {
		u.Drain()
		time.Sleep(5 * time.Millisecond)
	}
	if len(asked) == 0 {
		t.Fatal("the app never asked the daemon about its desktop session")
	}
	for range 20 { // let the answer reach the main goroutine
		u.Drain()
		time.Sleep(5 * time.Millisecond)
	}
	if calls := strings.Join(fake.Calls(), ";"); calls != "" {
		t.Errorf("calls %q in an inactive session, want none", calls)
	}
}
