package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// TestEpochDataKeysOurPair: cvpn client (IV_PROTO bits 9 and 10) and cvpn
// server agree on epoch data keys (OpenVPN 2.7 aead-epoch) for each AEAD
// cipher and on dynamic tls-crypt; the connected event says so, traffic is
// intact, also across server renegotiations every 3 s (a new epoch key pair
// per key id, negotiated under the dynamic tls-crypt key).
func TestEpochDataKeysOurPair(t *testing.T) {
	for _, tc := range []struct {
		name, transport, cipher string
	}{
		{"udp-aes256gcm-reneg", "udp", "AES-256-GCM"},
		{"tcp-chacha20", "tcp", "CHACHA20-POLY1305"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := newLabServer(t, serverSpec{transport: tc.transport, wrap: "tls-crypt", ciphers: []string{tc.cipher}, top: "reneg_sec = 3\n"})
			before := nstest.MustSnapshot(t, ls.lab.Client)
			cl := startCVPN(t, ls, ls.profile(t, ""), "")
			ip := cl.waitConnected(t)
			out := cl.proc.Output()
			if !strings.Contains(out, `"data_keys":"epoch"`) || !strings.Contains(out, `"cipher":"`+tc.cipher+`"`) {
				t.Fatalf("connected event without epoch data keys and %s:\n%s", tc.cipher, out)
			}
			proveTraffic(t, ls.lab, ip)
			time.Sleep(4 * time.Second) // at least one renegotiation
			proveTraffic(t, ls.lab, ip)
			if n := strings.Count(ls.proc.Output(), "data channel keys renegotiated"); n < 1 {
				t.Errorf("no renegotiation completed in 4 s with reneg_sec = 3")
			}
			cl.disconnect(t)
			nstest.AssertUnchanged(t, before)
		})
	}
}
