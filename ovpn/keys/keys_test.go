package keys

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"hash"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/wire"
)

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refPHash is a second, deliberately naive P_hash written straight from
// RFC 2246: it builds every A(i) and output block from fresh HMACs.
func refPHash(h func() hash.Hash, secret, seed []byte, n int) []byte {
	mac := func(data ...[]byte) []byte {
		m := hmac.New(h, secret)
		for _, d := range data {
			m.Write(d)
		}
		return m.Sum(nil)
	}
	var out []byte
	a := mac(seed)
	for len(out) < n {
		out = append(out, mac(a, seed)...)
		a = mac(a)
	}
	return out[:n]
}

func refPRF(secret, labelSeed []byte, n int) []byte {
	half := (len(secret) + 1) / 2
	m := refPHash(md5.New, secret[:half], labelSeed, n)
	s := refPHash(sha1.New, secret[len(secret)-half:], labelSeed, n)
	for i := range m {
		m[i] ^= s[i]
	}
	return m
}

// Published TLS 1.0 PRF vector (secret 48 x 0xab, label "PRF Testvector",
// seed 64 x 0xcd, 104 bytes), also reproduced with OpenSSL's TLS1-PRF.
func TestPRFPublishedVector(t *testing.T) {
	want := mustHex(t, "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754443bcf9a296519bc289abcbc1187e4ebd31e602353776c408aafb74cbc85eff69255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f1afbc655a8c9a013")
	out := make([]byte, len(want))
	PRF(out, bytes.Repeat([]byte{0xab}, 48), []byte("PRF Testvector"), bytes.Repeat([]byte{0xcd}, 64))
	if !bytes.Equal(out, want) {
		t.Fatalf("PRF mismatch:\n got %x\nwant %x", out, want)
	}
}

func TestPRFMatchesReference(t *testing.T) {
	for _, n := range []int{1, 15, 16, 20, 48, 100, 256, 333} {
		for _, slen := range []int{0, 1, 7, 48, 49} {
			secret := seq(3, slen)
			label := []byte("some label")
			s1, s2 := seq(100, 13), seq(200, 40)
			got := make([]byte, n)
			PRF(got, secret, label, s1, s2)
			ls := append(append(append([]byte{}, label...), s1...), s2...)
			if want := refPRF(secret, ls, n); !bytes.Equal(got, want) {
				t.Fatalf("n=%d slen=%d: got %x want %x", n, slen, got, want)
			}
		}
	}
}

func testInput() *PRFInput {
	in := &PRFInput{}
	copy(in.PreMaster[:], seq(0x00, 48))
	copy(in.ClientRandom1[:], seq(0x10, 32))
	copy(in.ServerRandom1[:], seq(0x30, 32))
	copy(in.ClientRandom2[:], seq(0x50, 32))
	copy(in.ServerRandom2[:], seq(0x70, 32))
	copy(in.ClientSessionID[:], seq(0x90, 8))
	copy(in.ServerSessionID[:], seq(0xa0, 8))
	return in
}

// Computed with: openssl kdf -keylen N -kdfopt digest:MD5-SHA1 ... TLS1-PRF
// (master first, then the key expansion with the master as secret).
const wantBlockHex = "f2be78cef59bf4a82a3b64c1e56801c4cc0560db07d23708bbbe287d0b2f3f00592b17c3e703bc8873d80078231e0294eed704cba0d6ffc7cbc780c508c85c7464c14a874641dc2baae8cf1dbcca6e2eb30d1ac52af47b6c3024510b0be89c40c312df87ee8410e93d25bf0e5cb9dd9531c986cc0c90e5bec799f8469b2073c6766b97ed87652538322c228718de7f8dfb1278a03c5dac8ffd31fdedf62309f85ee07d15afce691aa2bba61b8ac3535108ce92f62b2ceaaa9658f4a2d868c35331fc02e5d5f1138251e0a790fb307703b9db8577004ff368c2e3b5b4d3cf53c202f10f99b60da15df6eb65a55dd18caedb82939bfea8c671dd5dc50fc364db1b"

func TestDeriveKeyBlockKnownAnswer(t *testing.T) {
	kb := DeriveKeyBlock(testInput())
	if got := hex.EncodeToString(kb[:]); got != wantBlockHex {
		t.Fatalf("key block mismatch:\n got %s\nwant %s", got, wantBlockHex)
	}
}

func opensslPRF(t *testing.T, secret, seed []byte, n int) []byte {
	t.Helper()
	out, err := exec.Command("openssl", "kdf", "-keylen", strconv.Itoa(n), "-kdfopt", "digest:MD5-SHA1",
		"-kdfopt", "hexsecret:"+hex.EncodeToString(secret), "-kdfopt", "hexseed:"+hex.EncodeToString(seed), "TLS1-PRF").Output()
	if err != nil {
		t.Skipf("openssl kdf TLS1-PRF unavailable: %v", err)
	}
	return mustHex(t, strings.ToLower(strings.ReplaceAll(strings.TrimSpace(string(out)), ":", "")))
}

// TestDeriveKeyBlockOpenSSL recomputes the expansion with OpenSSL at test
// time for a different input (skipped when openssl is not on PATH).
func TestDeriveKeyBlockOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not on PATH")
	}
	in := testInput()
	in.PreMaster[0] ^= 0x5a
	in.ServerSessionID[7] ^= 0xff
	cat := func(p ...[]byte) []byte { return bytes.Join(p, nil) }
	master := opensslPRF(t, in.PreMaster[:], cat([]byte("OpenVPN master secret"), in.ClientRandom1[:], in.ServerRandom1[:]), 48)
	want := opensslPRF(t, master, cat([]byte("OpenVPN key expansion"), in.ClientRandom2[:], in.ServerRandom2[:], in.ClientSessionID[:], in.ServerSessionID[:]), 256)
	kb := DeriveKeyBlock(in)
	if !bytes.Equal(kb[:], want) {
		t.Fatalf("mismatch with openssl:\n got %x\nwant %x", kb[:], want)
	}
}

func TestKeyBlockSlots(t *testing.T) {
	var kb KeyBlock
	for i := range kb {
		kb[i] = byte(i)
	}
	check := func(name string, got []byte, off int) {
		t.Helper()
		if len(got) != 64 || cap(got) != 64 || got[0] != byte(off) || got[63] != byte(off+63) {
			t.Fatalf("%s: slot starts at %d len %d cap %d, want offset %d", name, got[0], len(got), cap(got), off)
		}
	}
	check("client send cipher", kb.SendCipher(wire.RoleClient), 0)
	check("client send hmac", kb.SendHMAC(wire.RoleClient), 64)
	check("client recv cipher", kb.RecvCipher(wire.RoleClient), 128)
	check("client recv hmac", kb.RecvHMAC(wire.RoleClient), 192)
	check("server send cipher", kb.SendCipher(wire.RoleServer), 128)
	check("server send hmac", kb.SendHMAC(wire.RoleServer), 192)
	check("server recv cipher", kb.RecvCipher(wire.RoleServer), 0)
	check("server recv hmac", kb.RecvHMAC(wire.RoleServer), 64)
	kb.Zero()
	if kb != (KeyBlock{}) {
		t.Fatal("Zero left non-zero bytes")
	}
}

type fakeExporter struct {
	label string
	ctx   []byte
	err   error
}

func (f *fakeExporter) ExportKeyingMaterial(label string, ctx []byte, n int) ([]byte, error) {
	f.label, f.ctx = label, ctx
	if f.err != nil {
		return nil, f.err
	}
	return seq(1, n), nil
}

func TestExportKeyBlock(t *testing.T) {
	f := &fakeExporter{}
	kb, err := ExportKeyBlock(f)
	if err != nil {
		t.Fatal(err)
	}
	if f.label != "EXPORTER-OpenVPN-datakeys" || f.ctx != nil {
		t.Fatalf("label %q ctx %v", f.label, f.ctx)
	}
	if !bytes.Equal(kb[:], seq(1, 256)) {
		t.Fatal("key block does not hold exported bytes")
	}
	_, err = ExportKeyBlock(&fakeExporter{err: errors.New("boom")})
	if !errors.Is(err, ErrNoEKM) {
		t.Fatalf("want ErrNoEKM, got %v", err)
	}
}

// TestExportKeyBlockRealTLS checks that both ends of a real TLS 1.3
// session derive the same key block.
func TestExportKeyBlockRealTLS(t *testing.T) {
	cs, ss := tlsPair(t)
	a, err := ExportKeyBlock(&cs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ExportKeyBlock(&ss)
	if err != nil {
		t.Fatal(err)
	}
	if *a != *b || *a == (KeyBlock{}) {
		t.Fatal("client and server exported different key blocks")
	}
}
