package killswitch_test

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
	"github.com/cvpn/cvpn/platform/killswitch"
)

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

// pfEnabled reads pf's enabled state ("Status: Enabled" in pfctl -s info).
func pfEnabled(t *testing.T) bool {
	t.Helper()
	return strings.HasPrefix(fwState(t), "Status: Enabled")
}

// TestOSKillswitchPFAfterCrash: a holder that dies without lifting its
// block leaves pf enabled with its enable token in block.json; the next
// process's Restore releases that reference for its own, and cvpn unblock
// (LiftRecorded with a fresh backend) leaves pf enabled or disabled as it
// was before the block. The block holds for about a second.
func TestOSKillswitchPFAfterCrash(t *testing.T) {
	osinteg.Require(t, "TestOSKillswitchPFAfterCrash (pf block of all traffic outside the tunnel, held across a simulated crash, about a second)")
	osinteg.MustTestNet(t, netip.MustParsePrefix("192.0.2.1/32"))
	before := fwState(t)
	if ours(before) {
		t.Skipf("pf already holds cvpn's anchor; the test does not replace it:\n%s", before)
	}
	wasEnabled := pfEnabled(t)
	dir := t.TempDir()
	r := killswitch.Rules{
		Mode:    killswitch.ModeFull,
		Servers: []killswitch.Server{{Addr: osServer, Port: osServerPort, Proto: "udp"}},
		Remotes: []killswitch.PortProto{{Port: osServerPort, Proto: "udp"}},
	}
	crashed := &killswitch.PF{}
	const deadPID = 1 << 30
	if _, err := killswitch.Hold(crashed, dir, killswitch.Record{Profile: "ostest", PID: deadPID, UID: -1, Rules: r}); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = killswitch.LiftRecorded(&killswitch.PF{}, dir) }()
	rec, err := killswitch.LoadRecord(dir)
	if err != nil || rec == nil || rec.EnableToken == "" {
		t.Fatalf("block.json after Hold: %+v, %v (want pf's enable token)", rec, err)
	}
	if !pfEnabled(t) {
		t.Errorf("pf not enabled while the block is held:\n%s", fwState(t))
	}
	restored, err := killswitch.Restore(&killswitch.PF{}, dir, func(int) bool { return false })
	if err != nil || restored == nil || restored.EnableToken == rec.EnableToken {
		t.Fatalf("Restore: %+v, %v (want a new token in place of %s)", restored, err, rec.EnableToken)
	}
	if !pfEnabled(t) {
		t.Errorf("pf not enabled after Restore:\n%s", fwState(t))
	}
	if _, err := killswitch.LiftRecorded(&killswitch.PF{}, dir); err != nil {
		t.Fatal(err)
	}
	if got := pfEnabled(t); got != wasEnabled {
		t.Errorf("pf enabled %v after unblock, %v before the block", got, wasEnabled)
	}
	if after := fwState(t); after != before {
		t.Errorf("firewall state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// checkInstalled has nothing to add on macOS: fwState shows the anchor's
// rules.
func checkInstalled(*testing.T, killswitch.Firewall, killswitch.Rules) {}
