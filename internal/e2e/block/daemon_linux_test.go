package block

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// Unprivileged users: nobody, and a uid without a passwd entry.
const (
	uidUser  = 65534
	uidOther = 65533
)

// TestBlockThroughDaemon: an unprivileged user connects a split-tunnel
// profile through the daemon with --block-when-down; while the tunnel is
// down the VPN's prefix does not leave on the LAN; another user may not
// lift the block, its owner may (cvpn unblock), and the ruleset is
// unchanged after the disconnect.
func TestBlockThroughDaemon(t *testing.T) {
	nstest.RequireBinaries(t, "setpriv")
	s := newSetup(t, true)
	cl := s.lab.Client
	// A copy of cvpn and the profile every user can read.
	dir, err := os.MkdirTemp("", "cvpn-block-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cvpn")
	if out, err := exec.Command("cp", s.bin, bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	prof := filepath.Join(dir, "lab.ovpn")
	if out, err := exec.Command("cp", s.prof, prof).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.Chmod(prof, 0o644); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "run", "cvpn.sock")
	for _, uid := range []int{uidUser, uidOther} {
		h := filepath.Join(dir, fmt.Sprintf("home-%d", uid))
		if err := os.Mkdir(h, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(h, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	asUser := func(uid int, args ...string) []string {
		return append([]string{"setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups",
			"env", "CVPN_SOCKET=" + socket, fmt.Sprintf("CVPN_HOME=%s/home-%d", dir, uid), fmt.Sprintf("HOME=%s/home-%d", dir, uid), bin}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := nstest.Ping(ctx, cl, nstest.LANHostIP); err != nil {
		t.Fatalf("before connecting: %v", err)
	}
	before := ruleset(t, cl)

	d := nstest.Start(t, cl, "env", "CVPN_HOME="+filepath.Join(dir, "root-home"), "CVPN_SOCKET="+socket, bin, "daemon")
	waitFor(t, d, "cvpn daemon listening")
	p := nstest.Start(t, cl, asUser(uidUser, "connect", prof, "--json", "--block-when-down")...)
	waitFor(t, p, `"state":"connected"`)
	waitFor(t, p, `"detail":"split"}`)
	if out, err := nstest.Run(ctx, cl, asUser(uidOther, "status")...); err != nil || !strings.Contains(out, "lab: traffic outside the tunnel is blocked while it is down (split)") {
		t.Errorf("cvpn status does not show the block: %v\n%s", err, out)
	}

	if err := s.srv.Stop(5 * time.Second); err != nil {
		t.Logf("stopping the server: %v", err)
	}
	waitFor(t, p, `"state":"reconnecting"`)
	time.Sleep(500 * time.Millisecond)
	if err := nstest.PingFails(ctx, cl, nstest.LANHostIP); err != nil {
		t.Errorf("while down, the VPN's prefix left on the LAN: %v", err)
	}
	if err := nstest.Ping(ctx, cl, onLinkHost); err != nil {
		t.Errorf("while down, traffic outside the VPN's prefixes must flow (split tunnel): %v", err)
	}

	out, err := nstest.Run(ctx, cl, asUser(uidOther, "unblock")...)
	if err == nil || !strings.Contains(out, "chosen by another user") {
		t.Errorf("another user's cvpn unblock: %v\n%s", err, out)
	}
	if err := nstest.PingFails(ctx, cl, nstest.LANHostIP); err != nil {
		t.Errorf("after a refused unblock: %v", err)
	}
	out, err = nstest.Run(ctx, cl, asUser(uidUser, "unblock")...)
	if err != nil || !strings.Contains(out, `Lifted the split block of "lab"`) {
		t.Errorf("the owner's cvpn unblock: %v\n%s", err, out)
	}
	if err := nstest.Ping(ctx, cl, nstest.LANHostIP); err != nil {
		t.Errorf("after the owner's unblock: %v", err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("cvpn connect did not exit:\n%s", p.Output())
	}
	if after := ruleset(t, cl); after != before {
		t.Errorf("ruleset after disconnect differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
