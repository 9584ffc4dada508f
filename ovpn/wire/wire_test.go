package wire

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		b    byte
		op   Opcode
		key  uint8
		errs string
	}{
		{0x38, OpHardResetClientV2, 0, ""},
		{0x40, OpHardResetServerV2, 0, ""},
		{0x21, OpControlV1, 1, ""},
		{0x2f, OpAckV1, 7, ""},
		{0x1a, OpSoftResetV1, 2, ""},
		{0x48, OpDataV2, 0, ""},
		{0x50, OpHardResetClientV3, 0, ""},
		{0x58, OpControlWKCV1, 0, ""},
		{0x08, 0, 0, "obsolete opcode 1"},
		{0x10, 0, 0, "obsolete opcode 2"},
		{0x00, 0, 0, "unknown opcode 0"},
		{0x60, 0, 0, "unknown opcode 12"},
		{0xf8, 0, 0, "unknown opcode 31"},
	} {
		op, key, err := ParseHeader(tc.b)
		if tc.errs != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errs) {
				t.Errorf("ParseHeader(%#x) error %v, want %q", tc.b, err, tc.errs)
			}
			continue
		}
		if err != nil || op != tc.op || key != tc.key {
			t.Errorf("ParseHeader(%#x) = %v,%d,%v want %v,%d", tc.b, op, key, err, tc.op, tc.key)
		}
		if Header(op, key) != tc.b {
			t.Errorf("Header(%v,%d) = %#x, want %#x", op, key, Header(op, key), tc.b)
		}
	}
}

func TestNextKeyID(t *testing.T) {
	want := []uint8{1, 2, 3, 4, 5, 6, 7, 1}
	k := uint8(0)
	for i, w := range want {
		k = NextKeyID(k)
		if k != w {
			t.Fatalf("step %d: NextKeyID = %d, want %d", i, k, w)
		}
	}
}

// Hand-built packets, byte by byte.
var knownPackets = []struct {
	name string
	hex  string
	want Control
}{
	{
		// 0x38 = opcode 7 (HARD_RESET_CLIENT_V2) << 3 | key 0
		// 0102030405060708 = session id
		// 00 = no acks (so no remote session id)
		// 00000000 = packet id 0, no payload
		name: "hard reset client",
		hex:  "38 0102030405060708 00 00000000",
		want: Control{Opcode: OpHardResetClientV2, SessionID: SessionID{1, 2, 3, 4, 5, 6, 7, 8}, Acks: []uint32{}},
	},
	{
		// 0x40 = opcode 8 (HARD_RESET_SERVER_V2), key 0
		// a1..a8 = server session id
		// 01 = one ack: 00000000 (packet id 0)
		// 0102030405060708 = remote (client) session id
		// 00000000 = packet id 0
		name: "hard reset server",
		hex:  "40 a1a2a3a4a5a6a7a8 01 00000000 0102030405060708 00000000",
		want: Control{Opcode: OpHardResetServerV2, SessionID: SessionID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8},
			Acks: []uint32{0}, RemoteSessionID: SessionID{1, 2, 3, 4, 5, 6, 7, 8}},
	},
	{
		// 0x21 = opcode 4 (CONTROL_V1) key 1; 2 acks (5, 7); packet id 9; payload "hi"
		name: "control with acks and payload",
		hex:  "21 0102030405060708 02 00000005 00000007 a1a2a3a4a5a6a7a8 00000009 6869",
		want: Control{Opcode: OpControlV1, KeyID: 1, SessionID: SessionID{1, 2, 3, 4, 5, 6, 7, 8},
			Acks: []uint32{5, 7}, RemoteSessionID: SessionID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}, PacketID: 9, Payload: []byte("hi")},
	},
	{
		// 0x28 = opcode 5 (ACK_V1) key 0; 1 ack (0x01020304); remote sid; no packet id
		name: "ack",
		hex:  "28 0102030405060708 01 01020304 a1a2a3a4a5a6a7a8",
		want: Control{Opcode: OpAckV1, SessionID: SessionID{1, 2, 3, 4, 5, 6, 7, 8},
			Acks: []uint32{0x01020304}, RemoteSessionID: SessionID{0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}},
	},
	{
		// 0x1a = opcode 3 (SOFT_RESET_V1) key 2, no acks, packet id 0
		name: "soft reset",
		hex:  "1a 0102030405060708 00 00000000",
		want: Control{Opcode: OpSoftResetV1, KeyID: 2, SessionID: SessionID{1, 2, 3, 4, 5, 6, 7, 8}, Acks: []uint32{}},
	},
}

func TestKnownPackets(t *testing.T) {
	for _, tc := range knownPackets {
		b := mustHex(t, tc.hex)
		p, err := DecodeControl(b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.Opcode != tc.want.Opcode || p.KeyID != tc.want.KeyID || p.SessionID != tc.want.SessionID ||
			p.RemoteSessionID != tc.want.RemoteSessionID || p.PacketID != tc.want.PacketID ||
			!bytes.Equal(p.Payload, tc.want.Payload) || len(p.Acks) != len(tc.want.Acks) {
			t.Fatalf("%s: decoded %+v, want %+v", tc.name, p, tc.want)
		}
		for i := range p.Acks {
			if p.Acks[i] != tc.want.Acks[i] {
				t.Fatalf("%s: ack %d = %d, want %d", tc.name, i, p.Acks[i], tc.want.Acks[i])
			}
		}
		enc, err := AppendControl([]byte{0xee}, &tc.want)
		if err != nil {
			t.Fatalf("%s: encode: %v", tc.name, err)
		}
		if !bytes.Equal(enc[1:], b) || enc[0] != 0xee {
			t.Fatalf("%s: encoded %x, want ee%x", tc.name, enc, b)
		}
		if tc.want.Len() != len(b) {
			t.Fatalf("%s: Len() = %d, want %d", tc.name, tc.want.Len(), len(b))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ hex, want string }{
		{"", "empty control packet"},
		{"08 0102030405060708 00 00000000", "obsolete opcode 1"},
		{"30 0102030405060708 00 00000000", "data packet"},
		{"48 000001 00000001", "data packet"},
		{"38 01020304", "too short for session id"},
		{"20 0102030405060708 09", "claims 9 acks, at most 8"},
		{"20 0102030405060708 02 00000001", "too short for 2 acks"},
		{"20 0102030405060708 01 00000001 01020304050607", "too short for 1 acks and remote session id"},
		{"20 0102030405060708 00 000000", "too short for its packet id"},
		{"28 0102030405060708 00", "carries no acks"},
		{"28 0102030405060708 01 00000001 0102030405060708 ff", "1 trailing bytes"},
	} {
		_, err := DecodeControl(mustHex(t, tc.hex))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decode %q: error %v, want %q", tc.hex, err, tc.want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		p    Control
		want string
	}{
		{Control{Opcode: OpDataV2}, "not a control opcode"},
		{Control{Opcode: OpControlV1, KeyID: 8}, "key id 8"},
		{Control{Opcode: OpControlV1, Acks: make([]uint32, 9)}, "9 acks"},
		{Control{Opcode: OpAckV1, Acks: []uint32{1}, Payload: []byte{1}}, "cannot carry a payload"},
	} {
		out, err := AppendControl(nil, &tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(out) != 0 {
			t.Errorf("encode %+v: %v (%d bytes), want error %q", tc.p, err, len(out), tc.want)
		}
	}
}

func TestDecodeReusesAcks(t *testing.T) {
	var p Control
	b := mustHex(t, knownPackets[2].hex)
	if err := p.Decode(b); err != nil {
		t.Fatal(err)
	}
	first := &p.Acks[0]
	if err := p.Decode(b); err != nil {
		t.Fatal(err)
	}
	if &p.Acks[0] != first {
		t.Error("Decode did not reuse the Acks storage")
	}
	if n := testing.AllocsPerRun(100, func() { _ = p.Decode(b) }); n != 0 {
		t.Errorf("Decode allocates %v times per run", n)
	}
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendControl(dst[:0], &p) }); n != 0 {
		t.Errorf("AppendControl allocates %v times per run", n)
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	pkts := [][]byte{{1}, bytes.Repeat([]byte{2}, 300), {3, 4}}
	for _, p := range pkts {
		if err := WriteFrame(&buf, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := buf.Bytes()[:3]; !bytes.Equal(got, []byte{0, 1, 1}) {
		t.Fatalf("first frame %x, want 000101", got)
	}
	fr := NewFrameReader(&buf, 1000)
	for i, want := range pkts {
		got, err := fr.ReadFrame()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %x, %v", i, got, err)
		}
	}
	if _, err := fr.ReadFrame(); err == nil || err.Error() != "EOF" {
		t.Fatalf("after last frame: %v, want EOF", err)
	}
	if _, err := AppendFrame(nil, make([]byte, 70000)); err == nil {
		t.Error("AppendFrame accepted 70000 bytes")
	}
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0, 0}, "zero-length"},
		{[]byte{0x04, 0x00}, "1024 bytes exceeds the maximum 1000"},
		{[]byte{0, 5, 1, 2}, "reading 5-byte TCP frame"},
		{[]byte{0}, "inside a frame length prefix"},
	} {
		_, err := NewFrameReader(bytes.NewReader(tc.in), 1000).ReadFrame()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadFrame(%x): %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestSessionID(t *testing.T) {
	a, err := NewSessionID(nil)
	if err != nil || a.IsZero() {
		t.Fatalf("NewSessionID: %v %v", a, err)
	}
	if _, err := NewSessionID(bytes.NewReader(make([]byte, 100))); err == nil {
		t.Error("NewSessionID accepted an all-zero random source")
	}
	if s := (SessionID{1, 2, 3, 4, 5, 6, 7, 0xff}).String(); s != "01020304050607ff" {
		t.Errorf("String = %s", s)
	}
}
