package datachannel

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/wire"
	"golang.org/x/crypto/chacha20poly1305"
)

func testBlock() *keys.KeyBlock {
	kb := new(keys.KeyBlock)
	for i := range kb {
		kb[i] = byte(i*7 + 3)
	}
	return kb
}

type suite struct {
	c Cipher
	a Auth
}

var allSuites = []suite{
	{CipherAES128GCM, AuthNone}, {CipherAES256GCM, AuthNone}, {CipherChaCha20Poly1305, AuthNone},
	{CipherAES256CBC, AuthSHA1}, {CipherAES256CBC, AuthSHA256}, {CipherAES256CBC, AuthSHA512}, {CipherAES128CBC, AuthSHA256},
}

func (s suite) String() string { return s.c.String() + "/" + s.a.String() }

// pair returns a client key and a server key built from the same block.
func pair(t testing.TB, s suite, v2 bool, clock func() time.Time) (*Key, *Key) {
	t.Helper()
	kb := testBlock()
	mk := func(r wire.Role) *Key {
		k, err := NewKey(kb, Config{Cipher: s.c, Auth: s.a, Role: r, KeyID: 2, DataV2: v2, PeerID: 0xABCDEF, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return mk(wire.RoleClient), mk(wire.RoleServer)
}

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 31)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	for _, s := range allSuites {
		for _, v2 := range []bool{false, true} {
			cli, srv := pair(t, s, v2, nil)
			for _, n := range []int{0, 1, 11, 12, 15, 16, 17, 1400, 1500} {
				p := payload(n)
				for _, dir := range []struct{ a, b *Key }{{cli, srv}, {srv, cli}} {
					pkt, err := dir.a.Seal([]byte("prefix"), p)
					if err != nil {
						t.Fatal(err)
					}
					if string(pkt[:6]) != "prefix" {
						t.Fatal("Seal clobbered dst prefix")
					}
					pkt = pkt[6:]
					if len(pkt) != n+dir.a.Overhead(n) {
						t.Fatalf("%v: len %d, want %d", s, len(pkt), n+dir.a.Overhead(n))
					}
					wantOp := byte(OpDataV1<<3 | 2)
					if v2 {
						wantOp = OpDataV2<<3 | 2
						if id, ok := PeerIDOf(pkt); !ok || id != 0xABCDEF {
							t.Fatalf("peer id %x %v", id, ok)
						}
					}
					if pkt[0] != wantOp {
						t.Fatalf("op byte %#x want %#x", pkt[0], wantOp)
					}
					got, err := dir.b.Open([]byte("x"), pkt)
					if err != nil {
						t.Fatalf("%v v2=%v n=%d: %v", s, v2, n, err)
					}
					if got[0] != 'x' || !bytes.Equal(got[1:], p) {
						t.Fatalf("%v: plaintext mismatch", s)
					}
				}
			}
			// A key never opens its own packets (directions use different keys).
			pkt, _ := cli.Seal(nil, payload(20))
			if _, err := cli.Open(nil, pkt); !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("%v: own packet opened: %v", s, err)
			}
		}
	}
}

func TestTamperEveryByte(t *testing.T) {
	for _, s := range allSuites {
		cli, srv := pair(t, s, true, nil)
		pkt, err := cli.Seal(nil, payload(100))
		if err != nil {
			t.Fatal(err)
		}
		for i := range pkt {
			if !s.c.IsAEAD() && i >= 1 && i <= 3 {
				// CBC does not authenticate the header: the P_DATA_V2
				// peer-id is outside the HMAC in OpenVPN too.
				continue
			}
			for _, mask := range []byte{0x01, 0x80} {
				bad := append([]byte(nil), pkt...)
				bad[i] ^= mask
				if out, err := srv.Open(nil, bad); err == nil {
					t.Fatalf("%v: flipping byte %d mask %#x was accepted (%d bytes)", s, i, mask, len(out))
				}
			}
		}
		// Truncations fail too.
		for n := 0; n < len(pkt); n++ {
			if _, err := srv.Open(nil, pkt[:n]); err == nil {
				t.Fatalf("%v: truncated to %d accepted", s, n)
			}
		}
		if _, err := srv.Open(nil, pkt); err != nil {
			t.Fatalf("%v: original rejected after tampering attempts: %v", s, err)
		}
	}
}

func TestReplayThroughOpen(t *testing.T) {
	for _, s := range allSuites {
		cli, srv := pair(t, s, false, nil)
		var pkts [][]byte
		for i := 0; i < 70; i++ {
			p, err := cli.Seal(nil, payload(10))
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, p)
		}
		if _, err := srv.Open(nil, pkts[5]); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Open(nil, pkts[5]); !errors.Is(err, ErrReplayDuplicate) {
			t.Fatalf("%v: duplicate: %v", s, err)
		}
		if _, err := srv.Open(nil, pkts[2]); err != nil { // reordered, inside window
			t.Fatalf("%v: reordered: %v", s, err)
		}
		if _, err := srv.Open(nil, pkts[69]); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Open(nil, pkts[3]); !errors.Is(err, ErrReplayTooOld) { // id 4, highest 70
			t.Fatalf("%v: too old: %v", s, err)
		}
		if _, err := srv.Open(nil, pkts[10]); err != nil { // id 11: 59 behind, ok
			t.Fatalf("%v: in window: %v", s, err)
		}
	}
}

func TestReplayWindow(t *testing.T) {
	var w ReplayWindow
	w.Backtrack = 15 * time.Second
	now := int64(1_000_000_000_000)
	accept := func(id uint32, at int64) error {
		if err := w.Check(id, at); err != nil {
			return err
		}
		w.Commit(id, at)
		return nil
	}
	if err := accept(0, now); !errors.Is(err, ErrReplayZero) {
		t.Fatalf("id 0: %v", err)
	}
	for _, id := range []uint32{1, 2, 5, 4, 64} {
		if err := accept(id, now); err != nil {
			t.Fatalf("id %d: %v", id, err)
		}
	}
	if err := accept(4, now); !errors.Is(err, ErrReplayDuplicate) {
		t.Fatalf("dup: %v", err)
	}
	if err := accept(1, now); !errors.Is(err, ErrReplayDuplicate) { // 63 behind, still tracked
		t.Fatalf("dup 1: %v", err)
	}
	if err := accept(65, now); err != nil {
		t.Fatal(err)
	}
	if err := accept(1, now); !errors.Is(err, ErrReplayTooOld) {
		t.Fatalf("too old: %v", err)
	}
	if err := accept(3, now); err != nil { // 62 behind, never seen
		t.Fatalf("late but fine: %v", err)
	}
	// Time backtrack: 20 s later a late packet whose newer neighbours
	// arrived 20 s ago is refused, but one newer than everything is fine.
	later := now + int64(20*time.Second)
	if err := accept(6, later); !errors.Is(err, ErrReplayExpired) {
		t.Fatalf("expired: %v", err)
	}
	if err := accept(100, later); err != nil {
		t.Fatal(err)
	}
	if err := accept(99, later+int64(time.Second)); err != nil { // neighbours fresh
		t.Fatalf("fresh late packet: %v", err)
	}
	// Jump far ahead resets the window.
	if err := accept(1000, later); err != nil {
		t.Fatal(err)
	}
	if err := accept(999, later); err != nil {
		t.Fatal(err)
	}
	if err := accept(100, later); !errors.Is(err, ErrReplayTooOld) {
		t.Fatal(err)
	}
}

func TestReplayBacktrackWithClock(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	cli, srv := pair(t, suite{CipherAES256GCM, AuthNone}, true, clock)
	p1, _ := cli.Seal(nil, payload(5))
	p2, _ := cli.Seal(nil, payload(5))
	if _, err := srv.Open(nil, p2); err != nil {
		t.Fatal(err)
	}
	now = now.Add(16 * time.Second)
	if _, err := srv.Open(nil, p1); !errors.Is(err, ErrReplayExpired) {
		t.Fatalf("want expired, got %v", err)
	}
}

// TestAEADCrossCheck decrypts our packets with independently built AEADs,
// checking tag placement, nonce (packet_id || implicit IV) and AD.
func TestAEADCrossCheck(t *testing.T) {
	kb := testBlock()
	for _, c := range []Cipher{CipherAES128GCM, CipherAES256GCM, CipherChaCha20Poly1305} {
		for _, v2 := range []bool{false, true} {
			k, err := NewKey(kb, Config{Cipher: c, Role: wire.RoleClient, KeyID: 1, DataV2: v2, PeerID: 7})
			if err != nil {
				t.Fatal(err)
			}
			k.Seal(nil, nil) // packet_id 1
			p := payload(77)
			pkt, err := k.Seal(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			key := kb[0:c.KeySize()] // client->server cipher slot
			var aead cipher.AEAD
			if c == CipherChaCha20Poly1305 {
				aead, _ = chacha20poly1305.New(key)
			} else {
				b, _ := aes.NewCipher(key)
				aead, _ = cipher.NewGCM(b)
			}
			h := 1
			if v2 {
				h = 4
				if !bytes.Equal(pkt[:4], []byte{OpDataV2<<3 | 1, 0, 0, 7}) {
					t.Fatalf("header %x", pkt[:4])
				}
			}
			if binary.BigEndian.Uint32(pkt[h:]) != 2 {
				t.Fatalf("packet_id %x, want 2", pkt[h:h+4])
			}
			nonce := append(append([]byte{}, pkt[h:h+4]...), kb[64:72]...)
			ad := pkt[h : h+4]
			if v2 {
				ad = pkt[:8]
			}
			ctTag := append(append([]byte{}, pkt[h+20:]...), pkt[h+4:h+20]...)
			got, err := aead.Open(nil, nonce, ctTag, ad)
			if err != nil {
				t.Fatalf("%v v2=%v: independent open failed: %v", c, v2, err)
			}
			if !bytes.Equal(got, p) {
				t.Fatal("plaintext mismatch")
			}
		}
	}
}

// TestCBCCrossCheck verifies HMAC(IV||ct) and decrypts with an independent
// CBC decrypter, and with `openssl enc` when available.
func TestCBCCrossCheck(t *testing.T) {
	kb := testBlock()
	k, err := NewKey(kb, Config{Cipher: CipherAES256CBC, Auth: AuthSHA256, Role: wire.RoleServer, KeyID: 0})
	if err != nil {
		t.Fatal(err)
	}
	p := payload(45)
	pkt, err := k.Seal(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if pkt[0] != OpDataV1<<3 {
		t.Fatalf("op %#x", pkt[0])
	}
	macKey := kb[192 : 192+32] // server->client hmac slot
	m := hmac.New(sha256.New, macKey)
	m.Write(pkt[1+32:])
	if !hmac.Equal(m.Sum(nil), pkt[1:33]) {
		t.Fatal("HMAC does not cover IV||ciphertext with the server->client hmac key")
	}
	iv, ct := pkt[33:49], pkt[49:]
	if len(ct) != 64 { // 4 + 45 = 49 -> padded to 64
		t.Fatalf("ciphertext %d bytes", len(ct))
	}
	b, _ := aes.NewCipher(kb[128:160])
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(pt, ct)
	want := append(append([]byte{0, 0, 0, 1}, p...), bytes.Repeat([]byte{15}, 15)...)
	if !bytes.Equal(pt, want) {
		t.Fatalf("plaintext\n got %x\nwant %x", pt, want)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	cmd := exec.Command("openssl", "enc", "-d", "-aes-256-cbc", "-K", hex.EncodeToString(kb[128:160]), "-iv", hex.EncodeToString(iv))
	cmd.Stdin = bytes.NewReader(ct)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl enc: %v", err)
	}
	if !bytes.Equal(out, want[:4+45]) {
		t.Fatalf("openssl plaintext %x", out)
	}
}

func TestCBCIVsDiffer(t *testing.T) {
	cli, _ := pair(t, suite{CipherAES256CBC, AuthSHA1}, false, nil)
	a, _ := cli.Seal(nil, payload(8))
	b, _ := cli.Seal(nil, payload(8))
	if bytes.Equal(a[21:37], b[21:37]) {
		t.Fatal("two packets share an IV")
	}
}

func TestPacketIDExhaustion(t *testing.T) {
	cli, srv := pair(t, suite{CipherAES256GCM, AuthNone}, false, nil)
	cli.setSendPID(0xFFFFFFFE)
	if cli.NeedsRenegotiation() != true {
		t.Fatal("NeedsRenegotiation false near wrap")
	}
	pkt, err := cli.Seal(nil, payload(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Open(nil, pkt); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Seal(nil, payload(3)); !errors.Is(err, ErrPacketIDExhausted) {
		t.Fatalf("want exhaustion, got %v", err)
	}
	fresh, _ := pair(t, suite{CipherAES256GCM, AuthNone}, false, nil)
	if fresh.NeedsRenegotiation() {
		t.Fatal("fresh key wants renegotiation")
	}
}

func TestConfigErrors(t *testing.T) {
	kb := testBlock()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Cipher: CipherAES256GCM, KeyID: 8}, "key_id 8"},
		{Config{Cipher: CipherAES256GCM, DataV2: true, PeerID: 1 << 24}, "peer-id"},
		{Config{Cipher: CipherAES256CBC}, "needs an auth digest"},
		{Config{Cipher: CipherNone}, "unsupported cipher"},
	} {
		if _, err := NewKey(kb, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestParseNames(t *testing.T) {
	for _, n := range []string{"AES-128-GCM", "aes-256-gcm", "ChaCha20-Poly1305", "AES-256-CBC", "AES-128-CBC"} {
		c, err := ParseCipher(n)
		if err != nil || !strings.EqualFold(c.String(), n) {
			t.Fatalf("%s: %v %v", n, c, err)
		}
	}
	if _, err := ParseCipher("BF-CBC"); err == nil || !strings.Contains(err.Error(), `"BF-CBC"`) {
		t.Fatalf("BF-CBC: %v", err)
	}
	for n, want := range map[string]Auth{"SHA1": AuthSHA1, "sha256": AuthSHA256, "SHA-512": AuthSHA512, "none": AuthNone} {
		if a, err := ParseAuth(n); err != nil || a != want {
			t.Fatalf("%s: %v %v", n, a, err)
		}
	}
	if _, err := ParseAuth("MD5"); err == nil {
		t.Fatal("MD5 accepted")
	}
}

func TestKeysSet(t *testing.T) {
	kb := testBlock()
	mk := func(id uint8, r wire.Role) *Key {
		k, err := NewKey(kb, Config{Cipher: CipherAES256GCM, Role: r, KeyID: id})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	var cs, ss Keys
	if _, err := cs.Seal(nil, nil); !errors.Is(err, ErrNoPrimaryKey) {
		t.Fatal(err)
	}
	cs.Install(mk(0, wire.RoleClient), true)
	ss.Install(mk(0, wire.RoleServer), true)
	old, _ := cs.Seal(nil, payload(9))
	// Renegotiate: key_id 1 becomes primary, key 0 still opens.
	cs.Install(mk(1, wire.RoleClient), true)
	ss.Install(mk(1, wire.RoleServer), false)
	newp, _ := cs.Seal(nil, payload(9))
	if newp[0]&7 != 1 {
		t.Fatalf("new packet key_id %d", newp[0]&7)
	}
	for _, p := range [][]byte{old, newp} {
		out, id, err := ss.Open(nil, p)
		if err != nil || !bytes.Equal(out, payload(9)) || id != p[0]&7 {
			t.Fatalf("open key %d: %v", p[0]&7, err)
		}
	}
	if err := ss.SetPrimary(1); err != nil {
		t.Fatal(err)
	}
	if err := ss.SetPrimary(5); err == nil {
		t.Fatal("SetPrimary of missing key succeeded")
	}
	ss.Remove(0)
	if _, _, err := ss.Open(nil, old); !errors.Is(err, ErrUnknownKeyID) {
		t.Fatalf("removed key: %v", err)
	}
	// Eviction keeps at most three keys.
	ss.Install(mk(2, wire.RoleServer), false)
	ss.Install(mk(3, wire.RoleServer), false)
	if ev := ss.Install(mk(4, wire.RoleServer), false); ev == nil || ev.KeyID() != 1 {
		t.Fatalf("evicted %v", ev)
	}
	if ss.Primary() != nil {
		t.Fatal("evicted key still primary")
	}
	if ss.Get(1) != nil || ss.Get(4) == nil {
		t.Fatal("slots wrong after eviction")
	}
	if _, _, err := ss.Open(nil, []byte{OpDataV1<<3 | 7, 0, 0}); !errors.Is(err, ErrUnknownKeyID) {
		t.Fatal(err)
	}
	if _, _, err := ss.Open(nil, []byte{4<<3 | 2, 0, 0}); !errors.Is(err, ErrNotData) {
		t.Fatal(err)
	}
}

func TestMagic(t *testing.T) {
	if !IsPing(AppendPing(nil)) || IsPing(AppendPing(nil)[:15]) || IsPing(append(AppendPing(nil), 0)) {
		t.Fatal("IsPing")
	}
	if hex.EncodeToString(PingMagic[:]) != "2a187bf3641eb4cb07ed2d0a981fc748" {
		t.Fatal("ping magic")
	}
	e := AppendOCCExit(nil)
	if !IsOCCExit(e) || len(e) != 17 || e[16] != 6 {
		t.Fatalf("occ exit %x", e)
	}
	if hex.EncodeToString(e[:16]) != "287f346bd4ef7a812d56b8d3afc5459c" {
		t.Fatal("occ magic")
	}
	if IsOCCExit(AppendPing(nil)) {
		t.Fatal("ping is not exit")
	}
	e[16] = 3
	if op, ok := OCCOpcode(e); !ok || op != 3 || IsOCCExit(e) {
		t.Fatal("occ opcode")
	}
}

func TestCompression(t *testing.T) {
	ip := []byte{0x45, 1, 2, 3}
	esc := []byte{0x50, 9, 9}
	cases := []struct {
		c    Compression
		in   []byte
		wire string
	}{
		{CompressNone, ip, "45010203"},
		{CompressLZONo, ip, "fa45010203"},
		{CompressStub, ip, "fb01020345"},
		{CompressStubV2, ip, "45010203"},
		{CompressStubV2, esc, "5000500909"},
		{CompressStub, nil, ""},
		{CompressLZONo, nil, "fa"},
	}
	for _, tc := range cases {
		w := tc.c.Frame(nil, tc.in)
		if hex.EncodeToString(w) != tc.wire {
			t.Errorf("%v frame %x: got %x want %s", tc.c, tc.in, w, tc.wire)
		}
		if len(w)-len(tc.in) > tc.c.MaxOverhead() {
			t.Errorf("%v overhead", tc.c)
		}
		got, err := tc.c.Unframe(w)
		if err != nil || !bytes.Equal(got, tc.in) {
			t.Errorf("%v unframe %x: %x %v", tc.c, w, got, err)
		}
	}
	// v1 modes accept either framing byte from the peer.
	if got, err := CompressStub.Unframe([]byte{0xfa, 1, 2}); err != nil || !bytes.Equal(got, []byte{1, 2}) {
		t.Fatal("stub accepts 0xFA")
	}
	if got, err := CompressLZONo.Unframe([]byte{0xfb, 2, 1}); err != nil || !bytes.Equal(got, []byte{1, 2}) {
		t.Fatal("lzo-no accepts 0xFB")
	}
	if _, err := CompressLZONo.Unframe([]byte{0x66, 1}); !errors.Is(err, ErrCompressed) || !strings.Contains(err.Error(), "0x66") {
		t.Fatalf("lzo data: %v", err)
	}
	if _, err := CompressStubV2.Unframe([]byte{0x50, 0x01, 1}); !errors.Is(err, ErrCompressed) {
		t.Fatalf("v2 compressed: %v", err)
	}
	if _, err := CompressStubV2.Unframe([]byte{0x50}); err == nil {
		t.Fatal("truncated v2 accepted")
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, s := range allSuites {
		cli, srv := pair(t, s, true, nil)
		p := payload(1400)
		pkt := make([]byte, 0, 2048)
		out := make([]byte, 0, 2048)
		allocs := testing.AllocsPerRun(200, func() {
			var err error
			pkt, err = cli.Seal(pkt[:0], p)
			if err != nil {
				t.Fatal(err)
			}
			out, err = srv.Open(out[:0], pkt)
			if err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %.1f allocs per Seal+Open, want 0", s, allocs)
		}
	}
}
