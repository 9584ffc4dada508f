package killswitch_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform/killswitch"
)

// fakePF is pfctl as far as the backend uses it: one anchor's rules and
// pf's enable references (pfctl -E prints a new token and enables pf,
// pfctl -X releases one; pf is disabled when none is left and it was not
// enabled without a reference, as pfctl -e or the system would).
type fakePF struct {
	enabledByOthers bool
	refs            map[string]bool
	next            int
	rules           string
	calls           []string
}

func newFakePF() *fakePF { return &fakePF{refs: map[string]bool{}, next: 1000} }

func (f *fakePF) enabled() bool { return f.enabledByOthers || len(f.refs) > 0 }

func (f *fakePF) run(stdin string, args ...string) (string, string, error) {
	f.calls = append(f.calls, strings.Join(args, " "))
	switch {
	case len(args) == 4 && args[2] == "-f":
		f.rules = stdin
	case len(args) == 4 && args[2] == "-s":
		return f.rules, "No ALTQ support in kernel\n", nil
	case len(args) == 4 && args[2] == "-F":
		f.rules = ""
	case len(args) == 1 && args[0] == "-E":
		f.next++
		tok := fmt.Sprint(f.next)
		f.refs[tok] = true
		return "", "No ALTQ support in kernel\npf enabled\nToken : " + tok + "\n", nil
	case len(args) == 2 && args[0] == "-X":
		if !f.refs[args[1]] {
			return "", "pfctl: DIOCSTOPREF: Invalid argument\n", fmt.Errorf("pfctl -X %s: exit status 1", args[1])
		}
		delete(f.refs, args[1])
	default:
		return "", "", fmt.Errorf("fake pfctl: unexpected %q", args)
	}
	return "", "", nil
}

func pfRules() killswitch.Rules {
	return killswitch.Rules{
		Mode:    killswitch.ModeFull,
		Servers: []killswitch.Server{{Addr: netip.MustParseAddr("192.0.2.1"), Port: 1194, Proto: "udp"}},
	}
}

// TestPFEnableTokenHoldLift: Hold enables pf with a reference, records
// its token in block.json, and Lift releases exactly that token: pf is
// disabled again when it was before, and stays enabled when someone else
// had enabled it.
func TestPFEnableTokenHoldLift(t *testing.T) {
	for _, others := range []bool{false, true} {
		f := newFakePF()
		f.enabledByOthers = others
		fw := &killswitch.PF{Run: f.run}
		dir := t.TempDir()
		b, err := killswitch.Hold(fw, dir, killswitch.Record{Profile: "p", PID: os.Getpid(), UID: -1, Rules: pfRules()})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := killswitch.LoadRecord(dir)
		if err != nil || rec == nil {
			t.Fatalf("record after Hold: %v, %v", rec, err)
		}
		if !f.enabled() || rec.EnableToken == "" || !f.refs[rec.EnableToken] {
			t.Fatalf("after Hold: pf enabled %v, recorded token %q, references %v", f.enabled(), rec.EnableToken, f.refs)
		}
		if err := b.Update(func(r *killswitch.Rules) { r.Tunnel = "utun7" }); err != nil {
			t.Fatal(err)
		}
		if len(f.refs) != 1 {
			t.Errorf("Update took another reference: %v (calls %q)", f.refs, f.calls)
		}
		if err := b.Lift(); err != nil {
			t.Fatal(err)
		}
		if f.enabled() != others || len(f.refs) != 0 || f.rules != "" {
			t.Errorf("after Lift (pf enabled by others before: %v): enabled %v, references %v, anchor %q", others, f.enabled(), f.refs, f.rules)
		}
	}
}

// TestPFEnableTokenAfterCrash: a holder that crashed leaves pf enabled
// and its token in block.json. Restore in the next process takes its own
// reference, releases the dead one and records the new one; cvpn unblock
// (LiftRecorded with a fresh backend) then releases that, and pf is
// disabled as before the block. A second crashed record taken over by
// Hold also loses its reference.
func TestPFEnableTokenAfterCrash(t *testing.T) {
	f := newFakePF()
	dir := t.TempDir()
	const deadPID = 1 << 30
	crashed := &killswitch.PF{Run: f.run}
	if _, err := killswitch.Hold(crashed, dir, killswitch.Record{Profile: "p", PID: deadPID, UID: -1, Rules: pfRules()}); err != nil {
		t.Fatal(err)
	}
	first, _ := killswitch.LoadRecord(dir)
	// The process dies here: nothing is lifted.
	restorer := &killswitch.PF{Run: f.run}
	rec, err := killswitch.Restore(restorer, dir, func(int) bool { return false })
	if err != nil || rec == nil {
		t.Fatalf("Restore: %v, %v", rec, err)
	}
	if f.refs[first.EnableToken] || !f.refs[rec.EnableToken] || len(f.refs) != 1 {
		t.Fatalf("after Restore: references %v, crashed token %s, recorded %s", f.refs, first.EnableToken, rec.EnableToken)
	}
	if onDisk, _ := killswitch.LoadRecord(dir); onDisk == nil || onDisk.EnableToken != rec.EnableToken {
		t.Fatalf("block.json after Restore names token %+v, want %s", onDisk, rec.EnableToken)
	}
	// The restoring daemon crashes too; the next connection's Hold takes
	// over the block and the reference.
	taker := &killswitch.PF{Run: f.run}
	b, err := killswitch.Hold(taker, dir, killswitch.Record{Profile: "q", PID: os.Getpid(), UID: -1, Rules: pfRules()})
	if err != nil {
		t.Fatal(err)
	}
	if f.refs[rec.EnableToken] || len(f.refs) != 1 || b.Record().EnableToken != taker.EnableToken() {
		t.Fatalf("after Hold over a crashed block: references %v, record token %s, backend token %s", f.refs, b.Record().EnableToken, taker.EnableToken())
	}
	// That one crashes as well; cvpn unblock lifts what is recorded.
	l, err := killswitch.LiftRecorded(&killswitch.PF{Run: f.run}, dir)
	if err != nil || l.Record == nil || !l.Rules {
		t.Fatalf("LiftRecorded: %+v, %v", l, err)
	}
	if f.enabled() || len(f.refs) != 0 {
		t.Errorf("pf still enabled after unblock: references %v (calls %q)", f.refs, f.calls)
	}
}

// TestPFEnableTokenGoneAfterReboot: a recorded token pf no longer knows
// (the machine rebooted) does not stop a block from being lifted.
func TestPFEnableTokenGoneAfterReboot(t *testing.T) {
	f := newFakePF()
	dir := t.TempDir()
	if _, err := killswitch.Hold(&killswitch.PF{Run: f.run}, dir, killswitch.Record{Profile: "p", PID: 1 << 30, UID: -1, Rules: pfRules()}); err != nil {
		t.Fatal(err)
	}
	f.refs = map[string]bool{} // reboot: references gone, anchor reloaded by Restore below
	if _, err := killswitch.Restore(&killswitch.PF{Run: f.run}, dir, func(int) bool { return false }); err != nil {
		t.Fatalf("Restore after reboot: %v", err)
	}
	if len(f.refs) != 1 {
		t.Fatalf("after Restore: references %v, want the restorer's one", f.refs)
	}
	if _, err := killswitch.LiftRecorded(&killswitch.PF{Run: f.run}, dir); err != nil {
		t.Fatal(err)
	}
	if f.enabled() {
		t.Errorf("pf enabled after unblock: %v", f.refs)
	}
	if rec, _ := killswitch.LoadRecord(dir); rec != nil {
		t.Errorf("record left: %+v", rec)
	}
}
