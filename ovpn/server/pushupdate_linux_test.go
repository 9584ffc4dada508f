package server_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server"
)

// activeConnection returns the id of the one active connection.
func activeConnection(t *testing.T, ls *labServer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := server.AdminCall(ctx, filepath.Join(ls.dir, labAdminSocket), server.AdminRequest{Command: "connections"})
	if err != nil || len(resp.Connections) != 1 {
		t.Fatalf("connections: %v %+v", err, resp)
	}
	return resp.Connections[0].ID
}

// pushUpdate runs `cvpn server push-update` and returns its output.
func pushUpdate(t *testing.T, ls *labServer, args ...string) (string, error) {
	t.Helper()
	argv := append([]string{"server", "push-update", "--config", ls.cfg}, args...)
	out, err := exec.Command(cvpnBinary(t), argv...).CombinedOutput()
	return string(out), err
}

// TestPushUpdateRefusals: push-update names what it cannot do: a client
// without IV_PROTO bit 12 (cvpn does not apply PUSH_UPDATE yet), an option
// that cannot change on a live session, an unknown connection.
func TestPushUpdateRefusals(t *testing.T) {
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", split: true})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	id := activeConnection(t, ls)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{id, "route 192.0.2.0 255.255.255.0"}, "does not support PUSH_UPDATE"},
		{[]string{id, "cipher AES-128-GCM"}, "cannot be changed on a live session"},
		{[]string{id, "--", "-dns 1.2.3.4"}, "takes no arguments"},
		{[]string{"cvpn-connection-nope", "route 192.0.2.0 255.255.255.0"}, `no connection "cvpn-connection-nope"`},
	} {
		out, err := pushUpdate(t, ls, tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("push-update %q: %v\n%s\nwant an error with %q", tc.args, err, out, tc.want)
		}
	}
	cl.disconnect(t)
}
