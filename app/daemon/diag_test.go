package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/app/ipc"
)

func diagText(d ipc.Diagnostics) string {
	var b strings.Builder
	for _, f := range d.Files {
		b.WriteString("== " + f.Name + "\n" + f.Text + "\n")
	}
	return b.String()
}

// TestDiagnosticsPerUser: a user's diagnostics hold only that user's
// connections, events and log segments; root's hold all; no secret
// written to a log or a state file reaches either.
func TestDiagnosticsPerUser(t *testing.T) {
	fs := newFakeSessions()
	fs.pushed["a.test"] = tunnelCfg("172.31.0.0/16")
	fs.pushed["b.test"] = tunnelCfg("172.30.0.0/16")
	m := newManager(t, fs, Authorizer{AdminGroups: []string{}})
	alice, bob := newFE(1000, nil), newFE(1001, nil)
	connectWait(t, m, fs, alice, "alices", profileText("a.test"))
	connectWait(t, m, fs, bob, "bobs", profileText("b.test"))
	// A state file with a secret in it (as if a journal carried one).
	if err := os.WriteFile(filepath.Join(m.sessionsDir(), "alices", "routes-alices.json"),
		[]byte(`{"removed":["192.168.1.0/24"],"auth_token":"AT-secret-42"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	mine := diagText(m.Diagnostics(alice.peer))
	for _, want := range []string{"daemon/status.json", `"name": "alices"`, "daemon/logs/alices-", "192.168.1.0/24", `"name":"alices"`} {
		if !strings.Contains(mine, want) {
			t.Errorf("alice's diagnostics lack %q:\n%s", want, mine)
		}
	}
	if strings.Contains(mine, "bobs") || strings.Contains(mine, "uid 1001") {
		t.Errorf("alice's diagnostics show bob's connection:\n%s", mine)
	}
	all := m.Diagnostics(ipc.Peer{UID: 0})
	if !all.Admin {
		t.Error("root is not an admin")
	}
	allText := diagText(all)
	for _, want := range []string{`"name": "alices"`, `"name": "bobs"`, "daemon/logs/alices-", "daemon/logs/bobs-"} {
		if !strings.Contains(allText, want) {
			t.Errorf("root's diagnostics lack %q:\n%s", want, allText)
		}
	}
	for _, secret := range []string{"hunter2", "AT-secret-42"} {
		if strings.Contains(mine, secret) || strings.Contains(allText, secret) {
			t.Errorf("secret %q in the diagnostics", secret)
		}
	}
}

func TestOwnSegments(t *testing.T) {
	log := `time=1 level=INFO msg="connect requested" owner="uid 1000 (pid 5)" version=x
time=2 level=INFO msg=event state=connected
time=3 level=INFO msg="connect requested" owner="uid 1001 (pid 6)" version=x
time=4 level=INFO msg=event state=bobs
time=5 level=INFO msg="connect requested" owner="uid 1000" version=x
time=6 level=INFO msg=event state=again
`
	got := ownSegments(log, ipc.Peer{UID: 1000})
	if !strings.Contains(got, "time=2") || !strings.Contains(got, "time=6") || strings.Contains(got, "bobs") || strings.Contains(got, "1001") {
		t.Errorf("ownSegments:\n%s", got)
	}
}
