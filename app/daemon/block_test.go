package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/platform/killswitch"
	"github.com/cvpn/cvpn/platform/killswitch/killswitchtest"
)

// TestUnblockPermissions: a block a user chose may be lifted by that user
// or an administrator; a block the policy forced only by an administrator.
func TestUnblockPermissions(t *testing.T) {
	fw := &killswitchtest.Firewall{}
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir, Run: (&fakeSessions{}).run, Firewall: fw, DisconnectTimeout: 5 * time.Second,
		Authorizer: Authorizer{AdminGroups: []string{"vpnadmin"}, GroupsOf: func(uid int) ([]string, error) {
			if uid == 1500 {
				return []string{"vpnadmin"}, nil
			}
			return nil, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	hold := func(uid int, forced bool) {
		t.Helper()
		// A block left by a crashed session (no process holds it).
		if _, err := killswitch.Hold(fw, dir, killswitch.Record{Profile: "work", PID: -1, UID: uid, Forced: forced,
			Rules: killswitch.Rules{Mode: killswitch.ModeFull}}); err != nil {
			t.Fatal(err)
		}
	}
	user, other, admin, root := ipc.Peer{UID: 1000}, ipc.Peer{UID: 1001}, ipc.Peer{UID: 1500}, ipc.Peer{UID: 0}

	hold(1000, false)
	if _, err := m.Unblock(other); ipc.ErrorCode(err) != ipc.CodeDenied || !strings.Contains(err.Error(), "another user") {
		t.Errorf("another user lifts a user's block: %v, want denied", err)
	}
	text, err := m.Unblock(user)
	if err != nil || !strings.Contains(text, `Removed the full block of "work" (chosen by the user)`) {
		t.Errorf("the user lifts their block: %q, %v", text, err)
	}
	if on, _ := fw.Installed(); on {
		t.Error("still blocked after the user's unblock")
	}

	hold(1000, true)
	if _, err := m.Unblock(user); ipc.ErrorCode(err) != ipc.CodeDenied || !strings.Contains(err.Error(), "administrator's policy") {
		t.Errorf("the user lifts a forced block: %v, want denied", err)
	}
	if on, _ := fw.Installed(); !on {
		t.Fatal("a denied unblock lifted the block")
	}
	if text, err := m.Unblock(admin); err != nil || !strings.Contains(text, "forced by the administrator's policy") {
		t.Errorf("an admin group member lifts a forced block: %q, %v", text, err)
	}
	hold(1000, true)
	if _, err := m.Unblock(root); err != nil {
		t.Errorf("root lifts a forced block: %v", err)
	}
	if text, err := m.Unblock(user); err != nil || text != "No block was in place." {
		t.Errorf("unblock with nothing blocked: %q, %v", text, err)
	}
}

// TestRecoverRestoresBlock: a block recorded by a crashed daemon (or lost
// in a reboot) is installed again when the daemon starts.
func TestRecoverRestoresBlock(t *testing.T) {
	dir := t.TempDir()
	rules := killswitch.Rules{Mode: killswitch.ModeFull, Tunnel: "cvpn0"}
	if err := killswitch.SaveRecord(dir, killswitch.Record{Profile: "work", PID: -1, UID: 1000, Rules: rules}); err != nil {
		t.Fatal(err)
	}
	fw := &killswitchtest.Firewall{}
	m, err := New(Config{StateDir: dir, Run: (&fakeSessions{}).run, Firewall: fw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	if err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	got, err := fw.Rules()
	if err != nil || !got.Equal(rules) {
		t.Errorf("installed after Recover: %+v, %v; want the recorded rules", got, err)
	}
}

// TestConnectWithBlock: the daemon passes block_when_down, the caller as
// the block's user and its state root to the session, shows the block in
// status and lifts it for its owner.
func TestConnectWithBlock(t *testing.T) {
	fw := &killswitchtest.Firewall{}
	dir := t.TempDir()
	got := make(chan session.Options, 1)
	run := func(ctx context.Context, o session.Options) error {
		got <- o
		if o.BlockWhenDown {
			b, err := killswitch.Hold(o.Firewall, o.BlockDir, killswitch.Record{Profile: o.TunnelID, PID: 1, UID: o.BlockUID,
				Rules: killswitch.Rules{Mode: killswitch.ModeFull}})
			if err != nil {
				return err
			}
			o.OnBlock(b)
		}
		<-ctx.Done()
		return nil
	}
	m, err := New(Config{StateDir: dir, Run: run, Firewall: fw, DisconnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	fe := newFE(1000, nil)
	if err := m.ConnectWith(context.Background(), fe, "work", profileText("a.test"), ipc.ConnectOptions{BlockWhenDown: true}); err != nil {
		t.Fatal(err)
	}
	o := <-got
	if !o.BlockWhenDown || o.BlockUID != 1000 || o.BlockDir != dir {
		t.Fatalf("session options: block %v uid %d dir %q", o.BlockWhenDown, o.BlockUID, o.BlockDir)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := m.Status(fe.Peer())
		if len(st) == 1 && st[0].Blocked == "full" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want the block shown", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := m.Unblock(ipc.Peer{UID: 1001}); ipc.ErrorCode(err) != ipc.CodeDenied {
		t.Errorf("another user's unblock: %v", err)
	}
	text, err := m.Unblock(fe.Peer())
	if err != nil || !strings.Contains(text, `Lifted the full block of "work"`) {
		t.Errorf("owner's unblock: %q, %v", text, err)
	}
	if st := m.Status(fe.Peer()); st[0].Blocked != "" {
		t.Errorf("status after unblock: %+v", st[0])
	}
	if on, _ := fw.Installed(); on {
		t.Error("still blocked after the owner's unblock")
	}
}
