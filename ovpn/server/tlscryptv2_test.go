package server

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/control"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// TestStatelessTLSCryptV2 runs a real client control channel with a
// tls-crypt-v2 key against the server's stateless reset handling: the
// server answers the V3 reset asking for WKc again, keeps no state, and
// starts the session only on the client's P_CONTROL_WKC_V1 that proves the
// cookie; the session's wrapper then reads the client's packets.
func TestStatelessTLSCryptV2(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &Server{log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})), now: func() time.Time { return now }}
	raw := make([]byte, 128)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	s.cfg = &config.Config{}
	s.v2Key, _ = tlswrap.NewV2ServerKey(raw)
	copy(s.cookie[:], "0123456789abcdef0123456789abcdef")
	var kc [tlswrap.StaticKeyLen]byte
	for i := range kc {
		kc[i] = byte(i * 5)
	}
	wkc, err := s.v2Key.WrapClientKey(kc, []byte{tlswrap.MetadataTimestamp, 0, 0, 0, 0, 0x6b, 0x49, 0xd2, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	cw, err := tlswrap.NewTLSCryptV2Client(kc, wkc, s.now)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var sent [][]byte
	ch, err := control.NewClient(context.Background(), control.Config{Wrapper: cw, Now: s.now,
		Send: func(b []byte) error {
			mu.Lock()
			sent = append(sent, append([]byte(nil), b...))
			mu.Unlock()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	take := func() [][]byte {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			out := sent
			sent = nil
			mu.Unlock()
			if len(out) > 0 {
				return out
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("client sent nothing")
		return nil
	}
	reset := take()
	if len(reset) != 1 || wire.Opcode(reset[0][0]>>3) != wire.OpHardResetClientV3 {
		t.Fatalf("client's first packets: %d, opcode %v", len(reset), wire.Opcode(reset[0][0]>>3))
	}
	var replies [][]byte
	var started []tlswrap.Wrapper
	reply := func(b []byte) { replies = append(replies, append([]byte(nil), b...)) }
	start := func(_, _ wire.SessionID, w tlswrap.Wrapper) { started = append(started, w) }
	s.statelessControl(peer, tlswrap.None{}, append([]byte(nil), reset[0]...), reply, start)
	if len(replies) != 1 || len(started) != 0 {
		t.Fatalf("reset: %d replies, %d sessions; want 1 reply, no session", len(replies), len(started))
	}
	ch.HandleIncoming(replies[0])
	third := take()
	if op := wire.Opcode(third[0][0] >> 3); op != wire.OpControlWKCV1 {
		t.Fatalf("client's third packet is %v, want P_CONTROL_WKC_V1", op)
	}
	s.statelessControl(peer, tlswrap.None{}, append([]byte(nil), third[0]...), reply, start)
	if len(started) != 1 || started[0] == nil || started[0].Mode() != "tls-crypt-v2" {
		t.Fatalf("WKC_V1 proving the cookie started %d sessions (%v)", len(started), started)
	}
	if _, err := started[0].Unwrap(append([]byte(nil), third[0]...)); err != nil {
		t.Fatalf("session wrapper cannot read the WKC_V1: %v", err)
	}
	// A plain reset is refused: this server has only the tls-crypt-v2 key.
	plain, _ := wire.AppendControl(nil, &wire.Control{Opcode: wire.OpHardResetClientV2, SessionID: wire.SessionID{7}})
	s.statelessControl(peer, tlswrap.None{}, plain, reply, start)
	if len(replies) != 1 {
		t.Fatal("server answered a reset without a tls-crypt-v2 key")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
