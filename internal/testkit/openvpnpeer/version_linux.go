package openvpnpeer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// SidDir is the Debian sid chroot holding OpenVPN 2.7: $CVPN_SID_DIR, or
// /var/cache/cvpn-sid.
func SidDir() string {
	if d := os.Getenv("CVPN_SID_DIR"); d != "" {
		return d
	}
	return "/var/cache/cvpn-sid"
}

// sidMarker is the file .ci/sid-chroot.sh writes when the chroot is
// complete.
const sidMarker = ".cvpn-sid"

// argv returns the command line that starts OpenVPN version v with args,
// the run's files being in hostDir.
func (v Version) argv(hostDir string, args ...string) []string {
	if v != V27 {
		return append([]string{Binary}, args...)
	}
	// unshare without --fork execs: the PID nstest records is openvpn's,
	// and the mounts end with the process.
	script := `set -e; r=$1; d=$2; shift 2
mount --bind /dev "$r/dev"
mount -t proc proc "$r/proc"
mkdir -p "$r` + RunDir27 + `"
mount --bind "$d" "$r` + RunDir27 + `"
exec chroot "$r" "$@"`
	return append([]string{"unshare", "--mount", "sh", "-c", script, "sh", SidDir(), hostDir, Binary}, args...)
}

var (
	sidOnce sync.Once
	sidErr  error
	sidVer  string
)

var reVersion = regexp.MustCompile(`OpenVPN (\d+\.\d+\.\d+)`)

// EnsureSid makes the sid chroot when it is missing (running
// .ci/sid-chroot.sh from the module root, which takes minutes the first
// time and is cached after) and returns the OpenVPN version it holds,
// e.g. "2.7.8". It fails when that is not a 2.7 release. The result is
// computed once per test binary.
func EnsureSid(ctx context.Context) (string, error) {
	sidOnce.Do(func() { sidVer, sidErr = ensureSid(ctx) })
	return sidVer, sidErr
}

func ensureSid(ctx context.Context) (string, error) {
	dir := SidDir()
	if _, err := os.Stat(filepath.Join(dir, sidMarker)); err != nil {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, ".ci", "sid-chroot.sh"))
		cmd.Env = append(os.Environ(), "CVPN_SID_DIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("openvpnpeer: making the OpenVPN 2.7 chroot %s: %v\n%s", dir, err, out)
		}
	}
	out, _ := exec.CommandContext(ctx, "chroot", dir, Binary, "--version").CombinedOutput()
	m := reVersion.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("openvpnpeer: %s has no working %s: %q", dir, Binary, firstLine(string(out)))
	}
	if !strings.HasPrefix(m[1], "2.7.") {
		return m[1], fmt.Errorf("openvpnpeer: %s holds OpenVPN %s, not 2.7", dir, m[1])
	}
	return m[1], nil
}

// moduleRoot finds the directory holding go.mod from the working
// directory up (tests run in their package's directory).
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("openvpnpeer: no go.mod above the working directory (needed to find .ci/sid-chroot.sh)")
		}
		d = up
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Require27 makes sure OpenVPN 2.7 can run (making the sid chroot when it
// is missing) and returns its version. When it cannot, the test is
// skipped, or fails under CI=true.
func Require27(t testing.TB) string {
	t.Helper()
	v, err := EnsureSid(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("OpenVPN 2.7 unavailable (CI=true: failing instead of skipping): %v", err)
		}
		t.Skipf("OpenVPN 2.7 unavailable: %v", err)
	}
	return v
}

// requireVersion is the version check StartServer and StartClient do.
func requireVersion(t testing.TB, v Version) {
	t.Helper()
	if v == V27 {
		Require27(t)
	}
}
