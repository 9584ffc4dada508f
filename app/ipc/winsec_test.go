package ipc

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPipeSDDL(t *testing.T) {
	const want = "O:BAG:SYD:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;AU)"
	if got := PipeSDDL(); got != want {
		t.Fatalf("PipeSDDL() = %q, want %q", got, want)
	}
}

// TestPipeClientRights checks the authenticated-users mask: it is exactly
// FILE_GENERIC_READ | FILE_GENERIC_WRITE without FILE_CREATE_PIPE_INSTANCE.
func TestPipeClientRights(t *testing.T) {
	const fileGenericRead = 0x00120089  // winnt.h
	const fileGenericWrite = 0x00120116 // winnt.h
	want := uint32((fileGenericRead | fileGenericWrite) &^ fileCreatePipeInst)
	if pipeClientRights != want {
		t.Fatalf("pipeClientRights = %#x, want %#x", pipeClientRights, want)
	}
	if pipeClientRights&fileCreatePipeInst != 0 {
		t.Fatal("authenticated users could create pipe instances")
	}
	sddl := PipeSDDL()
	i := strings.LastIndex(sddl, "(A;;")
	rights := strings.Split(sddl[i+1:len(sddl)-1], ";")[2]
	v, err := strconv.ParseUint(strings.TrimPrefix(rights, "0x"), 16, 32)
	if err != nil || uint32(v) != want || !strings.HasSuffix(sddl, ";;;AU)") {
		t.Fatalf("last ACE of %q: rights %q (%v), want %#x for AU", sddl, rights, err, want)
	}
	if !strings.HasPrefix(sddl[strings.Index(sddl, "D:P"):], "D:P(D;;GA;;;NU)") {
		t.Fatalf("%q: the deny-network ACE must come first", sddl)
	}
}

func TestBuildSDDL(t *testing.T) {
	got := buildSDDL("SY", "SY", []sddlACE{{Rights: "GA", SID: "S-1-5-21-1-2-3-1001"}, {Deny: true, Rights: "0x4", SID: "WD"}})
	if want := "O:SYG:SYD:P(A;;GA;;;S-1-5-21-1-2-3-1001)(D;;0x4;;;WD)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTrustedPipeOwner(t *testing.T) {
	for sid, want := range map[string]bool{
		"S-1-5-18":              true,  // SYSTEM
		"S-1-5-32-544":          true,  // Administrators
		"S-1-5-21-1-2-3-1001":   false, // an ordinary user (a squatter)
		"S-1-5-32-545":          false, // Users
		"S-1-5-19":              false, // LocalService
		"S-1-5-32-5440":         false,
		"":                      false,
		"s-1-5-18 ":             false,
		"S-1-5-21-1-2-3-500":    false, // a local Administrator account is a user, not the group
		"S-1-1-0":               false, // Everyone
		"S-1-5-11":              false, // Authenticated Users
		"S-1-5-32-544-1":        false,
		"S-1-5-21-9-9-9-512":    false, // Domain Admins is not accepted as owner
		"S-1-5-80-1-2-3-4-5":    false, // a service SID
		"S-1-5-18-1":            false,
		"S-1-16-12288":          false, // high integrity label
		"S-1-5-32-544\x00extra": false,
	} {
		if got := trustedPipeOwner(sid); got != want {
			t.Errorf("trustedPipeOwner(%q) = %v, want %v", sid, got, want)
		}
	}
}

func TestTokenIsAdmin(t *testing.T) {
	const user = "S-1-5-21-1-2-3-1001"
	users := tokenGroup{SID: "S-1-5-32-545", Attributes: seGroupEnabled | 0x3}
	cases := []struct {
		name   string
		user   string
		groups []tokenGroup
		want   bool
	}{
		{"LocalSystem", SIDLocalSystem, nil, true},
		{"elevated admin", user, []tokenGroup{users, {SID: SIDAdministrators, Attributes: 0xf}}, true},
		{"non-elevated admin (UAC deny-only)", user, []tokenGroup{users, {SID: SIDAdministrators, Attributes: seGroupUseForDenyOnly}}, false},
		{"deny-only but flagged enabled", user, []tokenGroup{{SID: SIDAdministrators, Attributes: seGroupEnabled | seGroupUseForDenyOnly}}, false},
		{"disabled group", user, []tokenGroup{{SID: SIDAdministrators, Attributes: 0x1}}, false},
		{"ordinary user", user, []tokenGroup{users}, false},
		{"no groups", user, nil, false},
		{"Administrators as user SID is not LocalSystem", SIDAdministrators, nil, false},
	}
	for _, c := range cases {
		if got := tokenIsAdmin(c.user, c.groups); got != c.want {
			t.Errorf("%s: tokenIsAdmin = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestClientProcessPlausible(t *testing.T) {
	acc := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if !clientProcessPlausible(acc.Add(-time.Hour), acc) || !clientProcessPlausible(acc, acc) {
		t.Error("a process created before the connection was refused")
	}
	if clientProcessPlausible(acc.Add(time.Millisecond), acc) {
		t.Error("a process created after the connection (reused pid) was accepted")
	}
}

func TestPeerWindowsIdentity(t *testing.T) {
	a := Peer{UID: -1, GID: -1, PID: 42, SID: "S-1-5-21-1-2-3-1001"}
	b := Peer{UID: -1, GID: -1, PID: 43, SID: "S-1-5-21-1-2-3-1002", Admin: true}
	if !a.SameUser(Peer{UID: -1, SID: a.SID, PID: 7}) || a.SameUser(b) {
		t.Error("SameUser must compare SIDs")
	}
	if a.SameUser(Peer{UID: -1}) {
		t.Error("a SID peer matched a peer without SID")
	}
	if got, want := a.String(), "user S-1-5-21-1-2-3-1001 (pid 42)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestSocketPathOverride(t *testing.T) {
	t.Setenv(EnvSocket, `\\.\pipe\cvpn-test`)
	if got := SocketPath(); got != `\\.\pipe\cvpn-test` {
		t.Errorf("SocketPath() = %q with %s set", got, EnvSocket)
	}
	t.Setenv(EnvSocket, "")
	if got := SocketPath(); got != DefaultSocketPath {
		t.Errorf("SocketPath() = %q, want DefaultSocketPath %q", got, DefaultSocketPath)
	}
}
