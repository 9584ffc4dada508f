package ctrlmsg

import (
	"slices"
	"testing"
)

// OpenVPN 2.7 pushes "protocol-flags cc-exit tls-ekm aead-epoch" to a
// client that advertises IV_PROTO bit 10: the flag is read, and written
// back the same way.
func TestProtocolFlagAEADEpoch(t *testing.T) {
	p, err := ParsePushOptions([]string{"protocol-flags cc-exit tls-ekm aead-epoch", "ifconfig 10.8.0.2 255.255.255.0"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ProtocolFlags != (ProtocolFlags{CCExit: true, TLSEKM: true, AEADEpoch: true}) || len(p.Ignored) != 0 {
		t.Fatalf("flags %+v ignored %v", p.ProtocolFlags, p.Ignored)
	}
	if !slices.Contains(p.Options(), "protocol-flags cc-exit tls-ekm aead-epoch") {
		t.Fatalf("options %q", p.Options())
	}
}
