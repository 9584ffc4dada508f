package hostile

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/km2"
)

// TestTCPOversizeKeyMethod2 is TestOversizeKeyMethod2 over TCP: after a
// valid TLS handshake a client sends key method 2 messages over the
// receive limits in both framings; the server refuses each at once with a
// log line naming field and limit, closes the TCP connection, writes a
// failed connection-log entry, and a 127 KiB AWS password (under the
// limit) still reaches PUSH_REPLY.
func TestTCPOversizeKeyMethod2(t *testing.T) {
	l := startTCPLab(t, labOpts{handWindow: 30 * time.Second})
	field := func(b []byte, s int, aws bool) []byte {
		if aws {
			b = binary.BigEndian.AppendUint32(b, uint32(s))
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(s))
		}
		return append(b, make([]byte, s)...) // zero bytes end in NUL
	}
	aws := func(opts, user, pass, pi int) []byte {
		b := km2Head(0)
		for _, s := range []int{opts, user, pass, pi} {
			b = field(b, s, true)
		}
		binary.LittleEndian.PutUint32(b, uint32(len(b)))
		return b
	}
	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"standard options 20 KiB", field(km2Head(0), 20<<10, false), "options in client message is 20480 bytes, limit 16384"},
		{"standard options 64 KiB-1", field(km2Head(0), 0xFFFF, false), "options in client message is 65535 bytes, limit 16384"},
		{"aws username 128 KiB+1", aws(10, km2.MaxUserPassAWS+1, 0, 0), "username in client message is 131073 bytes, limit 131072"},
		{"aws password 128 KiB+1", aws(10, 6, km2.MaxUserPassAWS+1, 0), "password in client message is 131073 bytes, limit 131072"},
		{"aws peer_info 64 KiB+1", aws(10, 6, 6, km2.MaxPeerInfoRecv+1), "peer_info in client message is 65537 bytes, limit 65536"},
		{"aws length prefix 1 GiB", binary.LittleEndian.AppendUint32(nil, 1<<30), "AWS framed client message claims 1073741824 bytes (limit 475136)"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRawTCP(t, l.client)
			tc, err := rc.tlsClient(ctx, l.client)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := tc.Write(c.msg); err != nil {
				t.Fatal(err)
			}
			select {
			case <-rc.done: // the server closed the TCP connection
			case <-time.After(5 * time.Second):
				t.Fatal("TCP connection still open 5 s after an oversize key method 2 message")
			}
			closed := time.Since(start)
			if !waitFor(5*time.Second, func() bool { return len(l.srv.Connections()) == 0 }) {
				t.Fatal("session still listed after the refusal")
			}
			if !waitFor(2*time.Second, func() bool { return strings.Contains(l.logs.String(), c.want) }) {
				t.Fatalf("no log line containing %q; log:\n%s", c.want, tail(l.logs.String(), 2000))
			}
			t.Logf("connection closed %s after the message: %s", closed.Round(time.Millisecond), findLine(l.logs.String(), c.want))
		})
	}
	if n := l.failedEntries(t, len(cases)); n != len(cases) {
		t.Errorf("%d failed connection-log entries for %d refused clients", n, len(cases))
	}
	bigAWSPasswordAccepted(ctx, t, dialRawTCP(t, l.client), l.client, "V4,dev-type tun,proto TCPv4")
}
