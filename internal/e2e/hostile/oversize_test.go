package hostile

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/loadgen"
	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// km2Head is the fixed start of a client key-method-2 message after the
// 4-byte framing word: key method, pre-master, two randoms.
func km2Head(first4 uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, first4)
	b = append(b, km2.KeyMethod2)
	return append(b, make([]byte, keys.PreMasterSize+2*keys.RandomSize)...)
}

// TestOversizeKeyMethod2: after a valid TLS handshake a client sends key
// method 2 messages over the receive limits, in both framings. The server
// refuses each at once (well inside the hand-window) with a log line
// naming the field and the limit, writes a failed connection-log entry,
// and keeps serving; an AWS framed message at the limit's edge (a 127 KiB
// password) is accepted, so the limit is where the docs say it is.
func TestOversizeKeyMethod2(t *testing.T) {
	l := startLab(t, labOpts{handWindow: 30 * time.Second})
	awsField := func(b []byte, s int) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(s))
		if s > 0 {
			b = append(b, make([]byte, s-1)...)
			b = append(b, 0)
		}
		return b
	}
	stdField := func(b []byte, s int) []byte {
		b = binary.BigEndian.AppendUint16(b, uint16(s))
		if s > 0 {
			b = append(b, make([]byte, s-1)...)
			b = append(b, 0)
		}
		return b
	}
	aws := func(opts, user, pass, pi int) []byte {
		b := km2Head(0)
		b = awsField(b, opts)
		b = awsField(b, user)
		b = awsField(b, pass)
		b = awsField(b, pi)
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		return b
	}
	cases := []struct {
		name string
		msg  []byte
		want string // in the server's log line
	}{
		{"standard options 20 KiB", stdField(km2Head(0), 20<<10), "options in client message is 20480 bytes, limit 16384"},
		{"standard options 64 KiB-1", stdField(km2Head(0), 0xFFFF), "options in client message is 65535 bytes, limit 16384"},
		{"aws username 128 KiB+1", aws(10, km2.MaxUserPassAWS+1, 0, 0), "username in client message is 131073 bytes, limit 131072"},
		{"aws password 128 KiB+1", aws(10, 6, km2.MaxUserPassAWS+1, 0), "password in client message is 131073 bytes, limit 131072"},
		{"aws peer_info 64 KiB+1", aws(10, 6, 6, km2.MaxPeerInfoRecv+1), "peer_info in client message is 65537 bytes, limit 65536"},
		{"aws length prefix 1 GiB", binary.LittleEndian.AppendUint32(nil, 1<<30), "AWS framed client message claims 1073741824 bytes (limit 475136)"},
		{"aws length prefix lies", func() []byte { b := aws(10, 6, 6, 0); binary.LittleEndian.PutUint32(b, uint32(len(b)+100)); return b }(), "-byte AWS framed client message: km2: message truncated"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	failed := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, l.client)
			tc, err := rc.tlsClient(ctx, l.client)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if c.name == "aws length prefix lies" {
				// The message ends early: the server waits for the
				// promised bytes, then the hand-window ends it. Close the
				// TLS stream instead to see the truncation refused.
				if _, err := tc.Write(c.msg); err != nil {
					t.Fatal(err)
				}
				tc.Close()
			} else if _, err := tc.Write(c.msg); err != nil {
				t.Fatal(err)
			}
			if !waitFor(10*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
				t.Fatalf("session still open 10 s after an oversize message")
			}
			failed++
			took := time.Since(start)
			if !waitFor(2*time.Second, func() bool { return strings.Contains(l.logs.String(), c.want) }) {
				t.Fatalf("no log line containing %q; log:\n%s", c.want, tail(l.logs.String(), 2000))
			}
			t.Logf("refused in %s: %s", took.Round(time.Millisecond), findLine(l.logs.String(), c.want))
			rc.Close()
		})
	}
	if n := l.failedEntries(t, failed); n != failed {
		t.Errorf("%d failed connection-log entries for %d refused clients", n, failed)
	}
	// The edge: a 127 KiB password in AWS framing is read whole and the
	// session proceeds to PUSH_REPLY.
	bigAWSPasswordAccepted(ctx, t, dialRaw(t, l.client), l.client, "V4,dev-type tun")
}

// bigAWSPasswordAccepted sends a 127 KiB password in AWS framing over rc
// and fails unless the server reads it whole and answers with PUSH_REPLY.
func bigAWSPasswordAccepted(ctx context.Context, t *testing.T, rc *rawClient, cfg loadgen.Config, options string) {
	t.Helper()
	tc, err := rc.tlsClient(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := km2.Message{Framing: km2.AWS, Sender: wire.RoleClient, Username: "alice", Password: strings.Repeat("p", 127<<10),
		Options: options, PeerInfo: km2.PeerInfo{Version: "2.6.14", Platform: "linux", Proto: km2.ClientIVProto,
			Ciphers: []string{"AES-256-GCM"}}.String()}
	if _, err := m.WriteTo(tc); err != nil {
		t.Fatal(err)
	}
	if got := readUntil(t, tc, "PUSH_REPLY", 10*time.Second); !strings.HasPrefix(got, "PUSH_REPLY") {
		t.Fatalf("after a 127 KiB AWS password (%s): %q", options, got)
	}
}

func readUntil(t *testing.T, tc *tls.Conn, prefix string, within time.Duration) string {
	t.Helper()
	if _, err := km2.Read(tc, wire.RoleServer); err != nil {
		t.Fatalf("server key exchange: %v", err)
	}
	if _, err := tc.Write([]byte("PUSH_REQUEST\x00")); err != nil {
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(within))
	br := bufio.NewReader(tc)
	for {
		msg, err := br.ReadString(0)
		if err != nil {
			t.Fatalf("no %s within %s: %v", prefix, within, err)
		}
		if msg = strings.TrimSuffix(msg, "\x00"); strings.HasPrefix(msg, prefix) || strings.HasPrefix(msg, "AUTH_FAILED") {
			return msg
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func findLine(s, sub string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}
