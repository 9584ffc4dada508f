package hostile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/server/export"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// asNobody runs argv as uid/gid 65534 with no supplementary groups and
// returns its combined output and error.
func asNobody(t *testing.T, argv ...string) (string, error) {
	t.Helper()
	args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}, argv...)
	out, err := exec.Command("setpriv", args...).CombinedOutput()
	return string(out), err
}

// TestOtherUserCannotReadProfiles: a profile imported by the user is
// stored 0600 in a 0700 folder; another local user (uid 65534, run with
// setpriv) gets EACCES reading it, listing the folder or writing into it.
// The folders above the store are opened to everyone first, and a 0644
// file beside the store is readable by the same user, so the refusal
// comes from the store's own modes.
func TestOtherUserCannotReadProfiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to uid 65534 with setpriv")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	base := t.TempDir()
	for d := base; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lab := filepath.Join(base, "lab")
	if _, err := export.InitLab(lab, export.InitOptions{PKI: pki.Options{KeyType: pki.ECDSAP256}}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "home")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := st.ImportFile(filepath.Join(lab, "client1.ovpn"), "work")
	if err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "public.txt")
	if err := os.WriteFile(open, []byte("public\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := asNobody(t, "cat", open); err != nil || out != "public\n" {
		t.Fatalf("control: uid 65534 cannot read a 0644 file beside the store (%v: %s); the test would prove nothing", err, out)
	}
	for _, c := range []struct {
		what string
		argv []string
	}{
		{"read the stored profile", []string{"cat", e.Path}},
		{"list the profile folder", []string{"ls", st.Dir()}},
		{"create a file in the profile folder", []string{"touch", filepath.Join(st.Dir(), "planted.ovpn")}},
	} {
		out, err := asNobody(t, c.argv...)
		if err == nil {
			t.Errorf("uid 65534 could %s: %s", c.what, out)
			continue
		}
		if !strings.Contains(out, "Permission denied") {
			t.Errorf("uid 65534 %s: %v: %s (want Permission denied)", c.what, err, out)
		}
		if strings.Contains(out, "BEGIN") {
			t.Errorf("key material leaked to uid 65534: %s", out)
		}
	}
	fi, err := os.Stat(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(st.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("profile %v, folder %v; want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
}
