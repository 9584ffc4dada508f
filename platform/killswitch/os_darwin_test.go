package killswitch_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform/killswitch"
)

const isWindows = false

// pf blocks this (root) process's sends like anyone's, except to the
// remotes' ports and DNS.
const udpChecksWhileBlocked = true

func pfctl(t *testing.T, args ...string) string {
	t.Helper()
	// Standard output only: pfctl warns on standard error even when it
	// succeeds ("No ALTQ support in kernel").
	out, err := exec.Command("/sbin/pfctl", args...).Output()
	if err != nil {
		t.Fatalf("pfctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fwState is pf's enabled state and the rules of cvpn's anchor.
func fwState(t *testing.T) string {
	t.Helper()
	status := "Status: unknown"
	for _, l := range strings.Split(pfctl(t, "-s", "info"), "\n") {
		if strings.HasPrefix(l, "Status:") {
			// "Status: Enabled for 0 days 00:01:02   Debug: Urgent"
			status = strings.Fields(l)[0] + " " + strings.Fields(l)[1]
		}
	}
	return status + "\nanchor " + killswitch.PFAnchor + ":\n" + pfctl(t, "-a", killswitch.PFAnchor, "-s", "rules")
}

// ours reports whether cvpn's anchor holds rules in state.
func ours(state string) bool {
	_, rules, _ := strings.Cut(state, killswitch.PFAnchor+":\n")
	return strings.TrimSpace(rules) != ""
}
