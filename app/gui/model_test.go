package gui

import (
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// A status snapshot asked for before a connect request but applied after
// it (the poll raced the request) must not end the new connection: the
// daemon did not know it yet. CI once logged a second "state disconnected"
// right after "connect requested" (TestGUIFollowsRealDaemon).
func TestStaleStatusDoesNotEndANewConnection(t *testing.T) {
	m := newModel()
	now := time.Now()
	c := m.get("lab")
	asked := uint64(0) // the poll is asked for here; the daemon has nothing
	// The user connects; the request returns (requested is cleared) before
	// the poll's answer is applied; the first state event is still on its way.
	c.status.State, c.requested, c.requestSeq = clientapi.StateResolving, false, 1
	if ended := m.applyStatus(now, asked, nil); len(ended) != 0 {
		t.Errorf("a snapshot older than the request ended %v", ended)
	}
	if c.status.State != clientapi.StateResolving || strings.Contains(strings.Join(c.log, "\n"), "state disconnected") {
		t.Errorf("state %s, log %q after a stale snapshot", c.status.State, c.log)
	}
	// A snapshot asked for after the request that still lacks it does end it.
	if ended := m.applyStatus(now, 1, nil); len(ended) != 1 || c.status.State != clientapi.StateDisconnected {
		t.Errorf("a current snapshot without the connection: ended %v, state %s", ended, c.status.State)
	}
}
