package km2

import (
	"bytes"
	"testing"

	"github.com/cvpn/cvpn/ovpn/wire"
)

func FuzzKM2Read(f *testing.F) {
	for _, fr := range []Framing{Standard, AWS} {
		b, _ := clientMsg(fr).MarshalBinary()
		f.Add(b, true)
		s := &Message{Framing: fr, Sender: wire.RoleServer, Options: "V4"}
		b, _ = s.MarshalBinary()
		f.Add(b, false)
	}
	f.Add([]byte{0, 0, 0, 0, 2}, true)
	f.Fuzz(func(t *testing.T, b []byte, fromClient bool) {
		sender := wire.RoleServer
		if fromClient {
			sender = wire.RoleClient
		}
		m, err := Read(bytes.NewReader(b), sender)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		m.Framing = DetectFraming(b)
		enc, err := m.AppendBinary(nil)
		if err != nil {
			return // received fields may exceed send limits
		}
		m2, err := Unmarshal(enc, sender)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if *m2 != *m {
			t.Fatal("round trip changed the message")
		}
	})
}
