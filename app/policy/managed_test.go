package policy

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"howett.net/plist"
)

// fakeSource is a managed source with fixed values, as the registry or a
// plist would hand them over.
type fakeSource struct {
	vals map[string]any
	err  error
}

func (fakeSource) Name() string                    { return `registry HKLM\FAKE` }
func (fakeSource) Entry() string                   { return "value" }
func (f fakeSource) Read() (map[string]any, error) { return f.vals, f.err }

func writePolicy(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestManagedWinsKeyByKey(t *testing.T) {
	path := writePolicy(t, `max_connections = 2
block_when_down = false
autoconnect = ["corp"]
`)
	// What a GPO (REG_DWORD, REG_MULTI_SZ) and the MSI (REG_SZ) write.
	src := fakeSource{vals: map[string]any{
		"block_when_down":     int64(1),
		"max_connections":     "3",
		"admin_groups":        "netops, vpn-admins",
		"allow_user_profiles": uint64(0),
		"profiles_dir":        filepath.Join(t.TempDir(), "managed"),
	}}
	p, err := LoadWith(path, src)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxConnections != 3 || !p.BlockWhenDown || p.AllowUserProfiles {
		t.Errorf("managed values did not win: max %d, block %v, allow %v", p.MaxConnections, p.BlockWhenDown, p.AllowUserProfiles)
	}
	if !reflect.DeepEqual(p.Autoconnect, []string{"corp"}) {
		t.Errorf("autoconnect = %q, want the file's [corp] (the managed source does not set it)", p.Autoconnect)
	}
	if !reflect.DeepEqual(p.AdminGroups, []string{"netops", "vpn-admins"}) {
		t.Errorf("admin_groups = %q, want [netops vpn-admins] from the comma-separated REG_SZ", p.AdminGroups)
	}
	if p.ProfilesDir != src.vals["profiles_dir"] {
		t.Errorf("profiles_dir = %q", p.ProfilesDir)
	}
	wantFrom := map[string]string{
		"max_connections": src.Name(), "block_when_down": src.Name(), "admin_groups": src.Name(),
		"allow_user_profiles": src.Name(), "profiles_dir": src.Name(), "autoconnect": "file " + path,
	}
	if !reflect.DeepEqual(p.From, wantFrom) || p.Managed != src.Name() || !p.Found {
		t.Errorf("From = %v, Managed = %q, Found = %v\nwant From = %v", p.From, p.Managed, p.Found, wantFrom)
	}
	d := p.Describe()
	for _, line := range []string{
		"policy file " + path + "\n",
		"block_when_down = true  # from " + src.Name() + "\n",
		`autoconnect = ["corp"]  # from file ` + path + "\n",
		`client_route_enforcement = "endpoint"  # from default` + "\n",
	} {
		if !strings.Contains(d, line) {
			t.Errorf("Describe lacks %q:\n%s", line, d)
		}
	}
}

func TestManagedWithoutFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.toml")
	_, err := LoadWith(path, fakeSource{vals: map[string]any{
		"autoconnect":              []string{"corp", "lab"},
		"client_route_enforcement": "force",
		"admin_groups":             []string{}, // an empty REG_MULTI_SZ: only administrators
		"block_when_down":          "TRUE",
		"PayloadUUID":              nil, // must not be reached: only a plist source drops Payload keys
	}})
	if err == nil || !strings.Contains(err.Error(), `value PayloadUUID: unknown key`) {
		t.Fatalf("err = %v, want PayloadUUID refused as an unknown value", err)
	}
	p, err := LoadWith(path, fakeSource{vals: map[string]any{
		"autoconnect":              []string{"corp", "lab"},
		"client_route_enforcement": "force",
		"admin_groups":             []string{},
		"block_when_down":          "TRUE",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Found || !reflect.DeepEqual(p.Autoconnect, []string{"corp", "lab"}) || !p.ForceEnforcement() ||
		p.AdminGroups == nil || len(p.AdminGroups) != 0 || !p.BlockWhenDown {
		t.Errorf("got %+v", p)
	}
	// An absent store (no key, no plist) changes nothing.
	p, err = LoadWith(path, fakeSource{})
	if err != nil || p.Managed != "" || len(p.From) != 0 || !reflect.DeepEqual(p, Policy{Path: path, ClientRouteEnforcement: EnforcementEndpoint,
		ProfilesDir: DefaultProfilesDir(), AllowUserProfiles: true}) {
		t.Errorf("absent managed source: %+v, %v; want the defaults", p, err)
	}
}

func TestManagedErrorsNameSourceAndKey(t *testing.T) {
	cases := []struct {
		name string
		vals map[string]any
		want string
	}{
		{"unknown", map[string]any{"autoconect": "corp"}, `value autoconect: unknown key (known keys: client_route_enforcement, autoconnect`},
		{"bool 2", map[string]any{"block_when_down": int64(2)}, `value block_when_down: want true or false, not 2`},
		{"bool word", map[string]any{"allow_user_profiles": "yes"}, `value allow_user_profiles: want true or false, not "yes"`},
		{"max text", map[string]any{"max_connections": "two"}, `value max_connections: want a whole number from 1 to 64, not "two"`},
		{"max 65", map[string]any{"max_connections": int64(65)}, `value max_connections: want a whole number from 1 to 64, not 65`},
		{"relative dir", map[string]any{"profiles_dir": "profiles"}, `value profiles_dir: want an absolute folder path, not "profiles"`},
		{"bad name", map[string]any{"autoconnect": []string{"corp", "../x"}}, `value autoconnect: the profile name "../x"`},
		{"twice", map[string]any{"autoconnect": "a,a"}, `value autoconnect: "a" is listed twice`},
		{"group space", map[string]any{"admin_groups": []string{"net ops"}}, `value admin_groups: "net ops" is not a group name`},
		{"enforcement", map[string]any{"client_route_enforcement": int64(1)}, `value client_route_enforcement: want "endpoint" or "force", not 1`},
	}
	path := writePolicy(t, "max_connections = 2\n")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadWith(path, fakeSource{vals: tc.vals})
			if err == nil || !strings.Contains(err.Error(), `policy from registry HKLM\FAKE: `+tc.want) {
				t.Fatalf("err = %v\nwant one containing %q", err, tc.want)
			}
			if p.MaxConnections != 0 || p.From != nil {
				t.Errorf("with an error the policy must be the defaults, got %+v", p)
			}
		})
	}
	_, err := LoadWith(path, fakeSource{err: errors.New("access denied")})
	if err == nil || err.Error() != `policy from registry HKLM\FAKE: access denied` {
		t.Errorf("unreadable source: %v", err)
	}
	// The file's own errors come first and still name the file and line.
	_, err = LoadWith(writePolicy(t, "\nmax_connections = 0\n"), fakeSource{vals: map[string]any{"max_connections": int64(3)}})
	if err == nil || !strings.Contains(err.Error(), ".toml:2: max_connections") {
		t.Errorf("bad file under a managed source: %v", err)
	}
}

// managedPrefs is what a device configuration profile leaves in
// /Library/Managed Preferences: the payload's keys (and, depending on the
// MDM, some Payload* bookkeeping).
var managedPrefs = map[string]any{
	"PayloadUUID":              "0B3A3C9E-4C0C-4E61-9E7E-0D0C4A4C2C11",
	"client_route_enforcement": "force",
	"autoconnect":              []string{"corp"},
	"allow_user_profiles":      false,
	"max_connections":          2,
	"block_when_down":          true,
	"admin_groups":             []string{"admin", "netops"},
}

// managedXML is the same as an MDM writes it in XML, by hand.
const managedXML = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>PayloadUUID</key><string>0B3A3C9E-4C0C-4E61-9E7E-0D0C4A4C2C11</string>
	<key>admin_groups</key><array><string>admin</string><string>netops</string></array>
	<key>allow_user_profiles</key><false/>
	<key>autoconnect</key><array><string>corp</string></array>
	<key>block_when_down</key><true/>
	<key>client_route_enforcement</key><string>force</string>
	<key>max_connections</key><integer>2</integer>
</dict>
</plist>
`

func checkManagedPrefs(t *testing.T, file string) {
	t.Helper()
	src := PlistSource{Path: file}
	p, err := LoadWith(filepath.Join(t.TempDir(), "none.toml"), src)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ForceEnforcement() || !reflect.DeepEqual(p.Autoconnect, []string{"corp"}) || p.AllowUserProfiles ||
		p.MaxConnections != 2 || !p.BlockWhenDown || !reflect.DeepEqual(p.AdminGroups, []string{"admin", "netops"}) {
		t.Errorf("from %s: %+v", file, p)
	}
	if len(p.From) != 6 || p.From["max_connections"] != "managed preferences "+file || p.Managed != src.Name() {
		t.Errorf("From = %v, Managed = %q", p.From, p.Managed)
	}
}

func TestPlistSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("xml by hand", func(t *testing.T) { checkManagedPrefs(t, write("hand.plist", []byte(managedXML))) })
	for name, format := range map[string]int{"xml": plist.XMLFormat, "binary": plist.BinaryFormat} {
		t.Run(name+" encoded", func(t *testing.T) {
			data, err := plist.Marshal(managedPrefs, format)
			if err != nil {
				t.Fatal(err)
			}
			if format == plist.BinaryFormat && !strings.HasPrefix(string(data), "bplist00") {
				t.Fatalf("not a binary plist: %q", data[:8])
			}
			checkManagedPrefs(t, write(name+".plist", data))
		})
	}
	// A binary plist from an encoder other than ours (Python's plistlib
	// writes the same bplist00 format as macOS's cfprefsd and plutil).
	t.Run("binary by python plistlib", func(t *testing.T) {
		py, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("python3 not found; the other encodings still ran")
		}
		out := filepath.Join(dir, "python.plist")
		script := `import plistlib, sys
d = {"PayloadUUID": "x", "client_route_enforcement": "force", "autoconnect": ["corp"], "allow_user_profiles": False,
     "max_connections": 2, "block_when_down": True, "admin_groups": ["admin", "netops"]}
with open(sys.argv[1], "wb") as f:
    plistlib.dump(d, f, fmt=plistlib.FMT_BINARY)
`
		if b, err := exec.Command(py, "-c", script, out).CombinedOutput(); err != nil {
			t.Fatalf("python3 plistlib: %v\n%s", err, b)
		}
		checkManagedPrefs(t, out)
	})

	missing := PlistSource{Path: filepath.Join(dir, "absent.plist")}
	if vals, err := missing.Read(); vals != nil || err != nil {
		t.Errorf("absent plist: %v, %v; want nothing", vals, err)
	}
	bad := PlistSource{Path: write("bad.plist", []byte("max_connections = 2\n"))}
	if _, err := LoadWith(filepath.Join(dir, "none.toml"), bad); err == nil || !strings.Contains(err.Error(), "policy from managed preferences "+bad.Path+": not a property list") {
		t.Errorf("not a plist: %v", err)
	}
	wrong := PlistSource{Path: write("wrong.plist", []byte(strings.Replace(managedXML, "<integer>2</integer>", "<string>many</string>", 1)))}
	if _, err := LoadWith(filepath.Join(dir, "none.toml"), wrong); err == nil ||
		!strings.Contains(err.Error(), "policy from managed preferences "+wrong.Path+`: key max_connections: want a whole number from 1 to 64, not "many"`) {
		t.Errorf("bad value: %v", err)
	}
}
