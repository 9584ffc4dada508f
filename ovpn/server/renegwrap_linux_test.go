package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// TestRenegotiationKeyIDWrap: with reneg_sec = 1 the server goes through
// all seven renegotiation key ids within the 60 s an old key lives on and
// reuses the first: every renegotiation must complete (a key id still held
// by its predecessor blocked the eighth with "key id 1 is still in use").
func TestRenegotiationKeyIDWrap(t *testing.T) {
	ls := newLabServer(t, serverSpec{wrap: "tls-crypt", top: "reneg_sec = 1\n"})
	cl := startCVPN(t, ls, ls.profile(t, ""), "")
	cl.waitConnected(t)
	deadline := time.Now().Add(40 * time.Second)
	for strings.Count(ls.proc.Output(), "data channel keys renegotiated") < 9 {
		if time.Now().After(deadline) {
			t.Fatalf("%d renegotiations in 40 s with reneg_sec = 1, want 9:\n%s", strings.Count(ls.proc.Output(), "data channel keys renegotiated"), ls.proc.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(ls.proc.Output(), "cannot start renegotiation") {
		t.Errorf("a renegotiation could not start:\n%s", ls.proc.Output())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, ls.lab.Client, serverTunnelIP); err != nil {
		t.Fatalf("ping through the tunnel after the renegotiations: %v", err)
	}
	cl.disconnect(t)
}
