package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// TestNetChangeReconnectsTCPAtOnce: over TCP a network change reconnects
// at once (a TCP connection cannot move), without a backoff.
func TestNetChangeReconnectsTCPAtOnce(t *testing.T) {
	lab := startLab(t, labOptions{edit: func(doc string) string {
		return strings.Replace(doc, `transport = "udp"`, `transport = "tcp"`, 1)
	}})
	conn := lab.waitEvent(t, 20*time.Second, "connected event", isConnected)
	lab.pingThroughTunnel(t, conn, 1)
	changed := time.Now()
	lab.changes <- client.NetChange{Time: changed, DefaultRoute: true, Detail: "test: new uplink"}
	ev := lab.waitEvent(t, 5*time.Second, "reconnecting event", func(e clientapi.Event) bool {
		return e.Event == clientapi.EventState && e.State == clientapi.StateReconnecting
	})
	if !strings.Contains(ev.Detail, "TCP") {
		t.Errorf("reconnect reason %q, want the TCP connection", ev.Detail)
	}
	conn2 := lab.waitEvent(t, 10*time.Second, "connected event after the reconnect", isConnected)
	lab.pingThroughTunnel(t, conn2, 2)
	t.Logf("traffic flowed again %s after the change (TCP reconnect)", time.Since(changed).Round(time.Millisecond))
	for _, e := range lab.eventLog() {
		if strings.Contains(e, "retrying in") {
			t.Fatalf("the client waited for a backoff: %v", lab.eventLog())
		}
	}
}
