package loadgen

import (
	"bufio"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/server"
)

// readControl reads NUL-terminated control messages from the session's
// TLS channel until one starts with prefix or the deadline passes.
func readControl(t *testing.T, s *Session, prefix string, within time.Duration) string {
	t.Helper()
	s.tc.SetReadDeadline(time.Now().Add(within))
	br := bufio.NewReader(s.tc)
	for {
		msg, err := br.ReadString(0)
		if err != nil {
			t.Fatalf("no %q control message within %s: %v", prefix, within, err)
		}
		msg = strings.TrimSuffix(msg, "\x00")
		if strings.HasPrefix(msg, prefix) {
			return msg
		}
	}
}

// TestSessionTimeout: a session older than session_timeout_hours (24 by
// default) is told to RESTART and dropped, like AWS ends sessions.
func TestSessionTimeout(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := startServer(t, "10.100.0.0/22", func(o *server.Options) { o.Now = now })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	offset.Store(int64(24*time.Hour + time.Second))
	if msg := readControl(t, s, "RESTART", 5*time.Second); !strings.Contains(msg, "session timeout") {
		t.Fatalf("got %q, want a RESTART naming the session timeout", msg)
	}
}

// TestShutdownTellsClients: stopping the server sends RESTART so clients
// reconnect at once instead of waiting for ping-restart.
func TestShutdownTellsClients(t *testing.T) {
	cfg, stop := startStoppableServer(t, "10.100.0.0/22")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan string, 1)
	go func() {
		s.tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(s.tc)
		for {
			msg, err := br.ReadString(0)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			if strings.HasPrefix(msg, "RESTART") {
				got <- strings.TrimSuffix(msg, "\x00")
				return
			}
		}
	}()
	stop()
	select {
	case msg := <-got:
		if !strings.HasPrefix(msg, "RESTART") {
			t.Fatalf("after shutdown the client read %q, want RESTART", msg)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no RESTART after shutdown")
	}
}
