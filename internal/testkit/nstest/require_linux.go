package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// RequireRoot skips the test unless it runs as root with /dev/net/tun
// usable and the `ip` command installed. When CI=true it fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if why := rootProblems(); why != "" {
		skipOrFail(t, why)
	}
}

// RequireBinaries skips (or, with CI=true, fails) the test unless every
// named program is on PATH.
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		skipOrFail(t, "programs not installed: "+strings.Join(missing, ", "))
	}
}

func rootProblems() string {
	var p []string
	if os.Geteuid() != 0 {
		p = append(p, fmt.Sprintf("not root (euid %d)", os.Geteuid()))
	}
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
		p = append(p, "/dev/net/tun unusable: "+err.Error())
	} else {
		_ = f.Close()
	}
	if _, err := exec.LookPath("ip"); err != nil {
		p = append(p, "`ip` (iproute2) not installed")
	}
	return strings.Join(p, "; ")
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("network namespace test cannot run: %s (CI=true: failing instead of skipping)", why)
		return
	}
	t.Skipf("network namespace test skipped: %s", why)
}
