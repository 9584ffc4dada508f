package daemon

import (
	"strings"
	"testing"

	"github.com/cvpn/cvpn/app/ipc"
)

// TestMayControlWindowsSIDs: on Windows peers carry a SID; the owner, and
// administrators (ipc.Peer.Admin, set by the pipe transport for LocalSystem
// and elevated Administrators) may control a connection; unix admin groups
// and UID 0 play no part.
func TestMayControlWindowsSIDs(t *testing.T) {
	owner := ipc.Peer{UID: -1, GID: -1, PID: 10, SID: "S-1-5-21-1-2-3-1001"}
	groupsCalled := false
	a := Authorizer{GroupsOf: func(int) ([]string, error) { groupsCalled = true; return []string{"wheel"}, nil }}
	cases := []struct {
		name string
		peer ipc.Peer
		ok   bool
	}{
		{"owner, other process", ipc.Peer{UID: -1, GID: -1, PID: 11, SID: owner.SID}, true},
		{"elevated administrator", ipc.Peer{UID: -1, GID: -1, PID: 12, SID: "S-1-5-21-1-2-3-500", Admin: true}, true},
		{"LocalSystem", ipc.Peer{UID: -1, GID: -1, PID: 4, SID: "S-1-5-18", Admin: true}, true},
		{"other user", ipc.Peer{UID: -1, GID: -1, PID: 13, SID: "S-1-5-21-1-2-3-1002"}, false},
		{"non-elevated administrator", ipc.Peer{UID: -1, GID: -1, PID: 14, SID: "S-1-5-21-1-2-3-500"}, false},
		{"other user with UID 0 is not root", ipc.Peer{UID: 0, GID: -1, PID: 15, SID: "S-1-5-21-1-2-3-1003"}, false},
	}
	for _, c := range cases {
		err := a.MayControl(c.peer, owner, "work")
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want allowed=%v", c.name, err, c.ok)
			continue
		}
		if err != nil {
			msg := err.Error()
			if ipc.ErrorCode(err) != ipc.CodeDenied || !strings.Contains(msg, "connection work belongs to user "+owner.SID) ||
				!strings.Contains(msg, `BUILTIN\Administrators`) || !strings.Contains(msg, "you are user "+c.peer.SID) {
				t.Errorf("%s: error %q", c.name, msg)
			}
		}
	}
	if groupsCalled {
		t.Error("unix group lookup used for a Windows peer")
	}
}
