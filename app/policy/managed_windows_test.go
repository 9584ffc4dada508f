package policy

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
)

// TestOSRegistryPolicy writes a policy key of its own under
// HKLM\SOFTWARE\Policies\cvpn (cvpn-test-*), as a GPO (REG_DWORD,
// REG_MULTI_SZ) and the MSI (REG_SZ) write values, reads it back through
// RegistrySource, and deletes it.
func TestOSRegistryPolicy(t *testing.T) {
	osinteg.Require(t, "TestOSRegistryPolicy (writes HKLM\\SOFTWARE\\Policies\\cvpn\\cvpn-test-*)")
	const parent = `SOFTWARE\Policies\cvpn`
	pk, err := registry.OpenKey(registry.LOCAL_MACHINE, parent, registry.QUERY_VALUE|registry.WOW64_64KEY)
	parentExisted := err == nil
	if parentExisted {
		pk.Close()
	}
	key := fmt.Sprintf(`%s\cvpn-test-%d`, parent, time.Now().UnixNano())
	k, _, err := registry.CreateKey(registry.LOCAL_MACHINE, key, registry.ALL_ACCESS|registry.WOW64_64KEY)
	if err != nil {
		t.Fatalf("create HKLM\\%s: %v", key, err)
	}
	t.Cleanup(func() {
		k.Close()
		if err := registry.DeleteKey(registry.LOCAL_MACHINE, key); err != nil {
			t.Errorf("delete HKLM\\%s: %v", key, err)
		}
		if _, err := (RegistrySource{Key: key}).Read(); err != nil {
			t.Errorf("after deleting the key: %v", err)
		}
		if !parentExisted { // leave HKLM\SOFTWARE\Policies as it was
			if err := registry.DeleteKey(registry.LOCAL_MACHINE, parent); err != nil {
				t.Errorf("delete HKLM\\%s (created by the test): %v", parent, err)
			}
		}
	})
	profiles := filepath.Join(t.TempDir(), "profiles")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(k.SetDWordValue("block_when_down", 1))
	must(k.SetDWordValue("Allow_User_Profiles", 0)) // value names are case-insensitive
	must(k.SetStringValue("max_connections", "3"))
	must(k.SetStringsValue("autoconnect", []string{"corp", "lab"}))
	must(k.SetStringValue("admin_groups", "netops,vpn-admins"))
	must(k.SetExpandStringValue("profiles_dir", profiles))
	must(k.SetStringValue("client_route_enforcement", "force"))
	must(k.SetStringValue("", "the (Default) value is ignored"))

	src := RegistrySource{Key: key}
	p, err := LoadWith(filepath.Join(t.TempDir(), "none.toml"), src)
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{Path: p.Path, Managed: `registry HKLM\` + key, ClientRouteEnforcement: EnforcementForce,
		Autoconnect: []string{"corp", "lab"}, ProfilesDir: profiles, AllowUserProfiles: false, MaxConnections: 3,
		BlockWhenDown: true, AdminGroups: []string{"netops", "vpn-admins"}, From: map[string]string{}}
	for _, name := range keys {
		want.From[name] = want.Managed
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", p, want)
	}

	must(k.SetDWordValue("max_connections", 0))
	_, err = LoadWith(filepath.Join(t.TempDir(), "none.toml"), src)
	if err == nil || !strings.Contains(err.Error(), `policy from registry HKLM\`+key+`: value max_connections: want a whole number from 1 to 64, not 0`) {
		t.Errorf("bad DWORD: %v", err)
	}
	must(k.DeleteValue("max_connections"))
	must(k.SetBinaryValue("block_when_down", []byte{1}))
	_, err = LoadWith(filepath.Join(t.TempDir(), "none.toml"), src)
	if err == nil || !strings.Contains(err.Error(), `value block_when_down: registry type 3 is not used by cvpn`) {
		t.Errorf("REG_BINARY: %v", err)
	}

	// The machine's own key is read by Load; absent, it changes nothing.
	if _, err := registry.OpenKey(registry.LOCAL_MACHINE, RegistryKey, registry.QUERY_VALUE); errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		p, err := Load(filepath.Join(t.TempDir(), "none.toml"))
		if err != nil || p.Managed != "" {
			t.Errorf("Load without HKLM\\%s: %+v, %v", RegistryKey, p, err)
		}
	}
}
