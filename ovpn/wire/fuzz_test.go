package wire

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func FuzzDecodeControl(f *testing.F) {
	for _, kp := range knownPackets {
		b, _ := hex.DecodeString(strings.ReplaceAll(kp.hex, " ", ""))
		f.Add(b)
	}
	f.Add([]byte{0x20, 1, 2, 3, 4, 5, 6, 7, 8, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Control
		if err := p.Decode(b); err != nil {
			return
		}
		// A packet that decodes must re-encode to the same bytes.
		enc, err := AppendControl(nil, &p)
		if err != nil {
			t.Fatalf("decoded packet does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("round trip changed bytes:\n in %x\nout %x", b, enc)
		}
	})
}
