package reliable

import (
	"testing"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// FuzzReliableReceive feeds arbitrary decoded packets to a Reliable and
// checks its invariants: delivery is gap-free and in order, never more
// than the receive window is buffered, and nothing panics.
func FuzzReliableReceive(f *testing.F) {
	var seed []byte
	for _, c := range []wire.Control{
		{Opcode: wire.OpControlV1, PacketID: 1, Payload: []byte("b"), Acks: []uint32{0}},
		{Opcode: wire.OpHardResetServerV2, PacketID: 0},
		{Opcode: wire.OpAckV1, Acks: []uint32{1, 2}},
		{Opcode: wire.OpControlV1, PacketID: 1, Payload: []byte("b")},
		{Opcode: wire.OpControlV1, PacketID: 11, Payload: []byte("c")},
	} {
		b, _ := wire.AppendControl(nil, &c)
		seed = append(append(seed, byte(len(b))), b...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := New(Config{})
		for i := 0; i < 3; i++ {
			r.Send(wire.OpControlV1, []byte{byte(i)})
		}
		r.Pending(t0, nil)
		want := uint32(0)
		// The input is a sequence of packets, each prefixed by one length byte.
		for len(data) > 0 {
			n := int(data[0])
			data = data[1:]
			if n > len(data) {
				n = len(data)
			}
			var p wire.Control
			if err := p.Decode(data[:n]); err == nil {
				_ = r.Receive(t0, &p)
			}
			data = data[n:]
			for {
				d, ok := r.Next()
				if !ok {
					break
				}
				if d.PacketID != want {
					t.Fatalf("delivered id %d, want %d", d.PacketID, want)
				}
				want++
			}
			if a := r.Acks(nil, wire.MaxAcks, true); len(a) > wire.MaxAcks {
				t.Fatalf("%d acks", len(a))
			}
			if r.Queued() > 3 {
				t.Fatalf("queued grew to %d", r.Queued())
			}
		}
	})
}
