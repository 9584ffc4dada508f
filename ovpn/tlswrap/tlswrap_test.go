package tlswrap

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// testKey is a fixed static key: byte i = i.
func testKey() [StaticKeyLen]byte {
	var k [StaticKeyLen]byte
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// A plain CONTROL_V1 packet: op 4 key 0, session id, 1 ack (0), remote
// session id, packet id 1, payload "hello".
func plainPacket() []byte {
	p := wire.Control{Opcode: wire.OpControlV1, SessionID: wire.SessionID{1, 2, 3, 4, 5, 6, 7, 8},
		Acks: []uint32{0}, RemoteSessionID: wire.SessionID{9, 9, 9, 9, 9, 9, 9, 9}, PacketID: 1, Payload: []byte("hello")}
	b, _ := wire.AppendControl(nil, &p)
	return b
}

func TestTLSAuthKnownAnswer(t *testing.T) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	key := testKey()
	for _, tc := range []struct {
		digest string
		h      func() hash.Hash
		dir    int
		sendAt int // offset of the sending HMAC key inside the static key
	}{
		{"", sha1.New, Direction0, 64},
		{"SHA256", sha256.New, Direction1, 128 + 64},
		{"sha512", sha512.New, DirectionNone, 64},
	} {
		w, err := NewTLSAuth(key, tc.dir, tc.digest, clk.now)
		if err != nil {
			t.Fatal(err)
		}
		plain := plainPacket()
		got, err := w.Wrap(nil, plain)
		if err != nil {
			t.Fatal(err)
		}
		// Independent computation: HMAC(replay id 1 | time | op | sid | rest).
		size := tc.h().Size()
		m := hmac.New(tc.h, key[tc.sendAt:tc.sendAt+size])
		var pt [8]byte
		binary.BigEndian.PutUint32(pt[:], 1)
		binary.BigEndian.PutUint32(pt[4:], 1700000000)
		m.Write(pt[:])
		m.Write(plain)
		want := append([]byte{}, plain[:9]...)
		want = m.Sum(want)
		want = append(want, pt[:]...)
		want = append(want, plain[9:]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("digest %q dir %d:\n got %x\nwant %x", tc.digest, tc.dir, got, want)
		}
		if len(got)-len(plain) != w.Overhead() {
			t.Errorf("Overhead %d, wrapped adds %d", w.Overhead(), len(got)-len(plain))
		}
		// The second packet uses replay id 2.
		got2, _ := w.Wrap(nil, plain)
		if id := binary.BigEndian.Uint32(got2[9+size:]); id != 2 {
			t.Errorf("second replay id %d, want 2", id)
		}
	}
}

func tlsAuthPair(t *testing.T, clk *fakeClock) (client, server *TLSAuth) {
	t.Helper()
	key := testKey()
	c, err := NewTLSAuth(key, Direction1, "SHA256", clk.now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewTLSAuth(key, Direction0, "SHA256", clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func tlsCryptPair(t *testing.T, clk *fakeClock) (client, server *TLSCrypt) {
	t.Helper()
	key := testKey()
	c, err := NewTLSCrypt(key, wire.RoleClient, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewTLSCrypt(key, wire.RoleServer, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestTLSCryptKnownAnswer(t *testing.T) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	key := testKey()
	for _, role := range []wire.Role{wire.RoleClient, wire.RoleServer} {
		w, err := NewTLSCrypt(key, role, clk.now)
		if err != nil {
			t.Fatal(err)
		}
		plain := plainPacket()
		got, err := w.Wrap(nil, plain)
		if err != nil {
			t.Fatal(err)
		}
		// Server sends with key[0], client with key[1].
		base := 128
		if role == wire.RoleServer {
			base = 0
		}
		ke, ka := key[base:base+32], key[base+64:base+96]
		hdr := append([]byte{}, plain[:9]...)
		hdr = binary.BigEndian.AppendUint32(hdr, 1)
		hdr = binary.BigEndian.AppendUint32(hdr, 1700000000)
		m := hmac.New(sha256.New, ka)
		m.Write(hdr)
		m.Write(plain[9:])
		tag := m.Sum(nil)
		blk, _ := aes.NewCipher(ke)
		ct := make([]byte, len(plain)-9)
		cipher.NewCTR(blk, tag[:16]).XORKeyStream(ct, plain[9:])
		want := append(append(hdr, tag...), ct...)
		if !bytes.Equal(got, want) {
			t.Fatalf("role %v:\n got %x\nwant %x", role, got, want)
		}
		if len(got)-len(plain) != w.Overhead() {
			t.Errorf("Overhead %d, wrapped adds %d", w.Overhead(), len(got)-len(plain))
		}
	}
}

func TestRoundTripAndReplay(t *testing.T) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	ac, as := tlsAuthPair(t, clk)
	cc, cs := tlsCryptPair(t, clk)
	for _, pair := range []struct {
		name     string
		snd, rcv Wrapper
	}{
		{"tls-auth c->s", ac, as}, {"tls-auth s->c", as, ac},
		{"tls-crypt c->s", cc, cs}, {"tls-crypt s->c", cs, cc},
		{"none", None{}, None{}},
	} {
		plain := plainPacket()
		var pkts [][]byte
		for i := 0; i < 5; i++ {
			p, err := pair.snd.Wrap(nil, plain)
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, p)
		}
		// Deliver out of order: 2, 0, 4.
		for _, i := range []int{2, 0, 4} {
			cp := append([]byte(nil), pkts[i]...)
			got, err := pair.rcv.Unwrap(cp)
			if err != nil {
				t.Fatalf("%s: packet %d: %v", pair.name, i, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("%s: unwrapped %x, want %x", pair.name, got, plain)
			}
		}
		if pair.name == "none" {
			continue
		}
		// Replays are rejected.
		_, err := pair.rcv.Unwrap(append([]byte(nil), pkts[2]...))
		if !errors.Is(err, ErrReplay) {
			t.Errorf("%s: replayed packet: %v, want ErrReplay", pair.name, err)
		}
		// ...but not by UnwrapNoReplay, which does not record either.
		if _, err := pair.rcv.UnwrapNoReplay(append([]byte(nil), pkts[2]...)); err != nil {
			t.Errorf("%s: UnwrapNoReplay: %v", pair.name, err)
		}
		// A late packet more than 15 s after the window moved past it.
		clk.t = clk.t.Add(16 * time.Second)
		_, err = pair.rcv.Unwrap(append([]byte(nil), pkts[1]...))
		if !errors.Is(err, ErrReplay) || !strings.Contains(err.Error(), "more than 15s") {
			t.Errorf("%s: late packet: %v, want time-window replay error", pair.name, err)
		}
		if _, err := pair.rcv.Unwrap(append([]byte(nil), pkts[3]...)); !errors.Is(err, ErrReplay) {
			t.Errorf("%s: late packet 3: %v", pair.name, err)
		}
		clk.t = clk.t.Add(-16 * time.Second)
		// Tampering is detected.
		bad := append([]byte(nil), pkts[4]...)
		bad[len(bad)-1] ^= 1
		if _, err := pair.rcv.Unwrap(bad); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: tampered packet: %v, want ErrAuth", pair.name, err)
		}
		bad = append([]byte(nil), pkts[4]...)
		bad[3] ^= 1 // inside the session id
		if _, err := pair.rcv.Unwrap(bad); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: tampered session id: %v, want ErrAuth", pair.name, err)
		}
	}
}

func TestWrongKeyOrDirection(t *testing.T) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	key := testKey()
	other := key
	other[197] ^= 0xff // inside key[1].hmac[0:20], the key direction 1 sends with
	c, _ := NewTLSAuth(key, Direction1, "", clk.now)
	same, _ := NewTLSAuth(key, Direction1, "", clk.now) // wrong: both direction 1
	wrongKey, _ := NewTLSAuth(other, Direction0, "", clk.now)
	wrongDigest, _ := NewTLSAuth(key, Direction0, "SHA256", clk.now)
	p, _ := c.Wrap(nil, plainPacket())
	for name, w := range map[string]Wrapper{"same direction": same, "wrong key": wrongKey, "wrong digest": wrongDigest} {
		_, err := w.Unwrap(append([]byte(nil), p...))
		if !errors.Is(err, ErrAuth) && !strings.Contains(fmtErr(err), "too short") {
			t.Errorf("%s: %v, want an authentication error", name, err)
		}
	}
	cc, _ := NewTLSCrypt(key, wire.RoleClient, clk.now)
	cc2, _ := NewTLSCrypt(key, wire.RoleClient, clk.now)
	q, _ := cc.Wrap(nil, plainPacket())
	if _, err := cc2.Unwrap(q); !errors.Is(err, ErrAuth) {
		t.Errorf("tls-crypt client accepted a client packet: %v", err)
	}
	if _, err := NewTLSAuth(key, 2, "", nil); err == nil {
		t.Error("direction 2 accepted")
	}
	if _, err := NewTLSAuth(key, 0, "MD4", nil); err == nil || !strings.Contains(err.Error(), "MD4") {
		t.Errorf("digest MD4: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestReplayEpochAndWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	var w replayWindow
	ok := func(id, tm uint32) {
		t.Helper()
		if err := w.check(id, tm, now); err != nil {
			t.Fatalf("id %d time %d rejected: %v", id, tm, err)
		}
		w.add(id, tm, now)
	}
	bad := func(id, tm uint32, want string) {
		t.Helper()
		err := w.check(id, tm, now)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("id %d time %d: %v, want %q", id, tm, err, want)
		}
	}
	bad(0, 5, "id 0")
	ok(1, 5)
	ok(100, 5)
	ok(40, 5)
	bad(36, 5, "outside the window")
	bad(40, 5, "already received")
	bad(200, 4, "older than current")
	ok(1, 6) // new epoch resets the window
	bad(100, 5, "older than current")
	ok(100, 6)
}

func TestSetNextSendID(t *testing.T) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	c, s := tlsCryptPair(t, clk)
	c.SetNextSendID(2)
	p, _ := c.Wrap(nil, plainPacket())
	if id := binary.BigEndian.Uint32(p[9:]); id != 2 {
		t.Fatalf("replay id %d, want 2", id)
	}
	if _, err := s.Unwrap(p); err != nil {
		t.Fatal(err)
	}
}

func TestUnwrapAllocs(t *testing.T) {
	clk := &fakeClock{time.Unix(1700000000, 0)}
	c, s := tlsAuthPair(t, clk)
	buf := make([]byte, 0, 512)
	p, _ := c.Wrap(nil, plainPacket())
	cp := make([]byte, len(p))
	plain := plainPacket()
	if n := testing.AllocsPerRun(50, func() {
		buf, _ = c.Wrap(buf[:0], plain)
		copy(cp, p)
		s.UnwrapNoReplay(cp)
	}); n > 1 {
		t.Errorf("tls-auth wrap+unwrap allocates %v times", n)
	}
}
