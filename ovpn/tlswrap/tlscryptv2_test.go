package tlswrap

import (
	"bytes"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// readPEM returns the bytes of the one PEM block of typ in file.
func readPEM(t *testing.T, file, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		t.Fatalf("%s: no %q block", file, typ)
	}
	return blk.Bytes
}

// labV2 reads the keys OpenVPN 2.6 generated (testdata/tlscryptv2/README).
func labV2(t *testing.T, client string) (*V2ServerKey, [StaticKeyLen]byte, []byte) {
	srv, err := NewV2ServerKey(readPEM(t, "testdata/tlscryptv2/server.key", "OpenVPN tls-crypt-v2 server key"))
	if err != nil {
		t.Fatal(err)
	}
	raw := readPEM(t, "testdata/tlscryptv2/"+client, "OpenVPN tls-crypt-v2 client key")
	var kc [StaticKeyLen]byte
	copy(kc[:], raw)
	return srv, kc, raw[StaticKeyLen:]
}

// OpenVPN's own client keys unwrap with its server key to the same Kc and
// the metadata it was asked for; re-wrapping gives OpenVPN's bytes.
func TestV2ClientKeysFromOpenVPN(t *testing.T) {
	srv, kc, wkc := labV2(t, "client-timestamp.key")
	got, md, err := srv.UnwrapClientKey(wkc)
	if err != nil {
		t.Fatal(err)
	}
	if got != kc {
		t.Fatal("unwrapped Kc differs from the Kc in the client key file")
	}
	ts, ok := KeyTimestamp(md)
	if !ok || ts.Year() != 2026 {
		t.Fatalf("timestamp metadata %x: %v %v, want a 2026 key generation time", md, ts, ok)
	}
	again, err := srv.WrapClientKey(kc, md)
	if err != nil || !bytes.Equal(again, wkc) {
		t.Fatalf("re-wrapped key differs from OpenVPN's (err %v)", err)
	}

	srv, kc, wkc = labV2(t, "client-user.key")
	got, md, err = srv.UnwrapClientKey(wkc)
	if err != nil || got != kc {
		t.Fatalf("user-metadata key: %v", err)
	}
	if want := append([]byte{MetadataUser}, "hello"...); !bytes.Equal(md, want) {
		t.Fatalf("metadata %q, want %q", md, want)
	}
	if _, ok := KeyTimestamp(md); ok {
		t.Fatal("user metadata taken for a timestamp")
	}

	// Another server key, a flipped bit, a wrong length: all rejected.
	other, _ := NewV2ServerKey(make([]byte, 128))
	if _, _, err := other.UnwrapClientKey(wkc); !errors.Is(err, ErrWKc) {
		t.Fatalf("other server key: %v", err)
	}
	bad := bytes.Clone(wkc)
	bad[40] ^= 1
	if _, _, err := srv.UnwrapClientKey(bad); !errors.Is(err, ErrWKc) {
		t.Fatalf("flipped bit: %v", err)
	}
	if _, _, err := srv.UnwrapClientKey(wkc[:len(wkc)-3]); !errors.Is(err, ErrWKc) {
		t.Fatalf("short key: %v", err)
	}
}

// The client wraps with Kc, appends WKc to V3 resets and WKC_V1 only, and
// marks its first replay id for early negotiation; a server that unwraps
// WKc can read the packet with Kc.
func TestV2ClientPackets(t *testing.T) {
	srv, kc, wkc := labV2(t, "client-timestamp.key")
	clk := &fakeClock{time.Unix(1800000000, 0)}
	cl, err := NewTLSCryptV2Client(kc, wkc, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Mode() != "tls-crypt-v2" || cl.WKcLen() != len(wkc) {
		t.Fatalf("mode %q wkc %d", cl.Mode(), cl.WKcLen())
	}
	sid := wire.SessionID{1, 2, 3, 4, 5, 6, 7, 8}
	reset, _ := wire.AppendControl(nil, &wire.Control{Opcode: wire.OpHardResetClientV3, SessionID: sid})
	pkt, err := cl.Wrap(nil, reset)
	if err != nil {
		t.Fatal(err)
	}
	if !EarlyNegotiation(pkt) {
		t.Fatalf("first replay id %#x lacks the early-negotiation marker", binary.BigEndian.Uint32(pkt[9:]))
	}
	wrapped, gotWKc, err := SplitWKc(pkt)
	if err != nil || !bytes.Equal(gotWKc, wkc) {
		t.Fatalf("split: %v", err)
	}
	srvKc, _, err := srv.UnwrapClientKey(gotWKc)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := NewTLSCrypt(srvKc, wire.RoleServer, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sw.Unwrap(wrapped)
	if err != nil || !bytes.Equal(plain, reset) {
		t.Fatalf("server unwrap of the reset: %v", err)
	}

	for _, tc := range []struct {
		op      wire.Opcode
		wantWKc bool
	}{{wire.OpControlWKCV1, true}, {wire.OpControlV1, false}, {wire.OpAckV1, false}} {
		c := wire.Control{Opcode: tc.op, SessionID: sid, Acks: []uint32{0}, RemoteSessionID: wire.SessionID{9}, PacketID: 1}
		p, _ := wire.AppendControl(nil, &c)
		out, err := cl.Wrap(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if has := bytes.HasSuffix(out, wkc); has != tc.wantWKc {
			t.Fatalf("%v: WKc appended %v, want %v", tc.op, has, tc.wantWKc)
		}
		if tc.wantWKc {
			out, _, _ = SplitWKc(out)
		}
		if _, err := sw.Unwrap(out); err != nil {
			t.Fatalf("%v: %v", tc.op, err)
		}
	}

	if _, err := NewTLSCryptV2Client(kc, wkc[:len(wkc)-1], clk.now); err == nil {
		t.Fatal("truncated WKc accepted")
	}
}

func TestServerResetFlags(t *testing.T) {
	p := AppendServerResetFlags(nil, FlagResendWKC)
	if want := []byte{0, 1, 0, 2, 0, 1}; !bytes.Equal(p, want) {
		t.Fatalf("TLV % x, want % x", p, want)
	}
	// An unknown TLV before the flags is skipped.
	in := append([]byte{0, 9, 0, 3, 'a', 'b', 'c'}, p...)
	if f, err := ServerResetFlags(in); err != nil || f != FlagResendWKC {
		t.Fatalf("flags %d err %v", f, err)
	}
	for _, bad := range [][]byte{{0, 1, 0}, {0, 1, 0, 3, 0, 1}, {0, 1, 0, 1, 7}} {
		if _, err := ServerResetFlags(bad); err == nil {
			t.Fatalf("% x accepted", bad)
		}
	}
}

// AcceptV2 applies --tls-crypt-v2-max-age: a key older than the limit, or
// without a timestamp, is refused; a younger one gives a working wrapper.
func TestAcceptV2MaxAge(t *testing.T) {
	srv, kc, wkc := labV2(t, "client-timestamp.key")
	_, md, _ := srv.UnwrapClientKey(wkc)
	made, _ := KeyTimestamp(md)
	cl, _ := NewTLSCryptV2Client(kc, wkc, func() time.Time { return made })
	reset, _ := wire.AppendControl(nil, &wire.Control{Opcode: wire.OpHardResetClientV3, SessionID: wire.SessionID{1}})
	pkt, _ := cl.Wrap(nil, reset)
	day := 24 * time.Hour
	at := func(d time.Duration) func() time.Time { return func() time.Time { return made.Add(d) } }
	w, info, err := srv.AcceptV2(pkt, 2*day, at(2*day-time.Minute))
	if err != nil || !info.Created.Equal(made) {
		t.Fatalf("key within the age: %v (created %v)", err, info.Created)
	}
	if plain, err := w.UnwrapNoReplay(bytes.Clone(pkt)); err != nil || !bytes.Equal(plain, reset) {
		t.Fatalf("wrapper from AcceptV2: %v", err)
	}
	if _, _, err := srv.AcceptV2(pkt, 2*day, at(2*day+time.Minute)); !errors.Is(err, ErrKeyAge) {
		t.Fatalf("key over the age: %v", err)
	}
	if _, _, err := srv.AcceptV2(pkt, 0, at(3650*day)); err != nil {
		t.Fatalf("no age limit: %v", err)
	}
	_, kcU, wkcU := labV2(t, "client-user.key")
	clU, _ := NewTLSCryptV2Client(kcU, wkcU, nil)
	pktU, _ := clU.Wrap(nil, reset)
	if _, _, err := srv.AcceptV2(pktU, day, nil); !errors.Is(err, ErrKeyAge) {
		t.Fatalf("key without timestamp under a max age: %v", err)
	}
}
