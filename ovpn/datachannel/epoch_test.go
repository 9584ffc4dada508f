package datachannel

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/wire"
)

func epochPair(t *testing.T, c Cipher) (cl, srv *EpochState) {
	t.Helper()
	kb := new(keys.KeyBlock)
	for i := range kb {
		kb[i] = byte(i)
	}
	var err error
	if cl, err = NewEpochState(kb, Config{Cipher: c, Role: wire.RoleClient, DataV2: true, PeerID: 7}); err != nil {
		t.Fatal(err)
	}
	if srv, err = NewEpochState(kb, Config{Cipher: c, Role: wire.RoleServer, DataV2: true, PeerID: 7}); err != nil {
		t.Fatal(err)
	}
	return cl, srv
}

// Packets built independently (Python: hmac for OVPN-Expand-Label and the
// cryptography package's AESGCM/ChaCha20Poly1305) from the format in
// docs/openvpn-27-wire.md, key block bytes 0..255, P_DATA_V2 key 0 peer 7.
var epochVectors = []struct {
	name   string
	cipher Cipher
	fromCl bool
	epoch  uint16
	plain  string
	packet string
}{
	{"client epoch 1 ctr 1 AES-256-GCM", CipherAES256GCM, true, 1, "hello epoch",
		"4800000700010000000000018083102b5f185640fa2c20f9461a083326a30f82ec67cb31c74669"},
	{"client epoch 2 ctr 5 AES-256-GCM", CipherAES256GCM, true, 2, "second epoch",
		"480000070002000000000005fab142aec07d207526f42bfa77dd52ea0463cfa5a89a3cec8ebfee1e"},
	{"server epoch 1 ctr 1 CHACHA20-POLY1305", CipherChaCha20Poly1305, false, 1, "from the server",
		"4800000700010000000000018f80260d9f11b1671ce24d4d92b16bcaf49175d50a151afa8f096f66ccaad6"},
}

func TestEpochKnownAnswer(t *testing.T) {
	for _, v := range epochVectors {
		t.Run(v.name, func(t *testing.T) {
			cl, srv := epochPair(t, v.cipher)
			pkt, _ := hex.DecodeString(v.packet)
			rx := srv
			if !v.fromCl {
				rx = cl
			}
			got, err := rx.Open(nil, pkt)
			if err != nil || string(got) != v.plain {
				t.Fatalf("Open = %q, %v; want %q", got, err, v.plain)
			}
			if rx.RecvEpoch() != v.epoch {
				t.Fatalf("receive epoch %d after the packet, want %d", rx.RecvEpoch(), v.epoch)
			}
			if v.epoch == 1 && v.fromCl {
				// Our first packet is the same bytes.
				if out, _ := cl.Seal(nil, []byte(v.plain)); !bytes.Equal(out, pkt) {
					t.Fatalf("Seal = %x\nwant   %x", out, pkt)
				}
			}
		})
	}
}

// Both directions round trip; a packet in a newer epoch moves the
// receiver's epoch and its send key follows; old-epoch packets still open
// (the retiring key); replays, tampering and unknown epochs are refused.
func TestEpochRoundTripAndRotation(t *testing.T) {
	cl, srv := epochPair(t, CipherAES128GCM)
	for i := 0; i < 3; i++ {
		p, _ := cl.Seal(nil, []byte("up"))
		if got, err := srv.Open(nil, p); err != nil || string(got) != "up" {
			t.Fatalf("up %d: %q %v", i, got, err)
		}
		p, _ = srv.Seal(nil, []byte("down"))
		if got, err := cl.Open(nil, p); err != nil || string(got) != "down" {
			t.Fatalf("down %d: %q %v", i, got, err)
		}
	}
	late, _ := cl.Seal(nil, []byte("late"))
	replayed, _ := cl.Seal(nil, []byte("once"))
	if _, err := srv.Open(nil, replayed); err != nil {
		t.Fatal(err)
	}
	// The client's send key reaches its usage limit: the next packet is in
	// epoch 2, the server follows and answers in epoch 2.
	cl.sendMu.Lock()
	cl.send.blocks = cl.limit
	cl.sendMu.Unlock()
	p, _ := cl.Seal(nil, []byte("new epoch"))
	if cl.SendEpoch() != 2 {
		t.Fatalf("client send epoch %d after the usage limit, want 2", cl.SendEpoch())
	}
	if got, err := srv.Open(nil, p); err != nil || string(got) != "new epoch" {
		t.Fatalf("server opening epoch 2: %q %v", got, err)
	}
	if srv.RecvEpoch() != 2 {
		t.Fatalf("server receive epoch %d", srv.RecvEpoch())
	}
	p, _ = srv.Seal(nil, []byte("follow"))
	if srv.SendEpoch() != 2 || binary64(p[4:12])>>48 != 2 {
		t.Fatalf("server send epoch %d, want to follow to 2", srv.SendEpoch())
	}
	if got, err := cl.Open(nil, p); err != nil || string(got) != "follow" {
		t.Fatalf("client opening epoch 2: %v", err)
	}
	if got, err := srv.Open(nil, late); err != nil || string(got) != "late" {
		t.Fatalf("late epoch-1 packet: %q %v", got, err)
	}
	if _, err := srv.Open(nil, replayed); !errors.Is(err, ErrReplayDuplicate) {
		t.Fatalf("replayed packet: %v", err)
	}
	bad, _ := cl.Seal(nil, []byte("tampered"))
	bad[len(bad)-1] ^= 1
	if _, err := srv.Open(nil, bad); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("tampered packet: %v", err)
	}
	// An epoch beyond the future window is unknown.
	far := bytes.Clone(bad)
	far[4], far[5] = 0, 9
	if _, err := srv.Open(nil, far); !errors.Is(err, ErrUnknownEpoch) {
		t.Fatalf("epoch 9: %v", err)
	}
}

// A receiver whose key of the current epoch reaches the usage limit moves
// its own send key on, which tells the peer to move too.
func TestEpochReceiveLimit(t *testing.T) {
	cl, srv := epochPair(t, CipherAES256GCM)
	srv.recvMu.Lock()
	srv.cur.blocks = srv.limit
	srv.recvMu.Unlock()
	p, _ := cl.Seal(nil, []byte("x"))
	if _, err := srv.Open(nil, p); err != nil {
		t.Fatal(err)
	}
	p, _ = srv.Seal(nil, []byte("y"))
	if srv.SendEpoch() != 2 {
		t.Fatalf("server send epoch %d after its receive key's limit, want 2", srv.SendEpoch())
	}
	if _, err := cl.Open(nil, p); err != nil {
		t.Fatal(err)
	}
	cl.Seal(nil, []byte("z"))
	if cl.SendEpoch() != 2 {
		t.Fatalf("client send epoch %d, want to follow to 2", cl.SendEpoch())
	}
	// ChaCha20-Poly1305 has no usage limit.
	c2, _ := epochPair(t, CipherChaCha20Poly1305)
	c2.send.blocks = 1 << 40
	c2.Seal(nil, []byte("x"))
	if c2.SendEpoch() != 1 {
		t.Fatal("ChaCha20-Poly1305 changed epoch on a usage count")
	}
	if _, err := NewEpochState(new(keys.KeyBlock), Config{Cipher: CipherAES256CBC, Auth: AuthSHA256}); err == nil {
		t.Fatal("epoch keys with a CBC cipher accepted")
	}
}

func binary64(b []byte) uint64 {
	var v uint64
	for _, x := range b[:8] {
		v = v<<8 | uint64(x)
	}
	return v
}

func BenchmarkEpochSealOpen1400(b *testing.B) {
	cl, srv := epochPair(&testing.T{}, CipherAES256GCM)
	pt := make([]byte, 1400)
	buf := make([]byte, 0, 2048)
	out := make([]byte, 0, 2048)
	b.SetBytes(1400)
	b.ReportAllocs()
	for b.Loop() {
		p, _ := cl.Seal(buf[:0], pt)
		if _, err := srv.Open(out[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

// A Key built with Config.Epoch speaks the epoch format through the Keys
// set the client and server use.
func TestKeyWithEpochFormat(t *testing.T) {
	kb := new(keys.KeyBlock)
	for i := range kb {
		kb[i] = byte(i)
	}
	cfg := Config{Cipher: CipherAES256GCM, Role: wire.RoleClient, KeyID: 0, DataV2: true, PeerID: 7, Epoch: true}
	ck, err := NewKey(kb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Role = wire.RoleServer
	sk, _ := NewKey(kb, cfg)
	var cks, sks Keys
	cks.Install(ck, true)
	sks.Install(sk, true)
	p, err := cks.Seal(nil, []byte("hello epoch"))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(p) != epochVectors[0].packet {
		t.Fatalf("Keys.Seal with epoch keys = %x, want the known answer", p)
	}
	if got, id, err := sks.Open(nil, p); err != nil || id != 0 || string(got) != "hello epoch" {
		t.Fatalf("Keys.Open = %q %d %v", got, id, err)
	}
	if ck.Overhead(100) != 4+8+16 || ck.Epoch() == nil || ck.NeedsRenegotiation() || ck.SentPackets() != 1 {
		t.Fatalf("overhead %d epoch %v reneg %v sent %d", ck.Overhead(100), ck.Epoch(), ck.NeedsRenegotiation(), ck.SentPackets())
	}
	if _, err := NewKey(kb, Config{Cipher: CipherAES256CBC, Auth: AuthSHA256, Epoch: true}); err == nil {
		t.Fatal("epoch keys with AES-256-CBC accepted")
	}
}

// Without epoch keys an AES-GCM key asks for renegotiation when packets
// plus plaintext blocks sent, or received, pass 2^36 - 1; ChaCha20-Poly1305
// has no such limit.
func TestAEADUsageLimitRenegotiates(t *testing.T) {
	kb := new(keys.KeyBlock)
	for _, c := range []Cipher{CipherAES128GCM, CipherAES256GCM, CipherChaCha20Poly1305} {
		k, err := NewKey(kb, Config{Cipher: c, Role: wire.RoleClient})
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := NewKey(kb, Config{Cipher: c, Role: wire.RoleServer})
		p, _ := k.Seal(nil, make([]byte, 100))
		if _, err := peer.Open(nil, p); err != nil {
			t.Fatal(err)
		}
		if k.NeedsRenegotiation() || peer.NeedsRenegotiation() {
			t.Fatalf("%s: renegotiation asked after one packet", c)
		}
		if got := k.sBlocks.Load(); c != CipherChaCha20Poly1305 && got != 7 {
			t.Fatalf("%s: %d blocks counted for 104 bytes, want 7", c, got)
		}
		k.sBlocks.Store(1<<36 - 1)
		peer.rBlocks.Store(1<<36 - 1)
		want := c != CipherChaCha20Poly1305
		if k.NeedsRenegotiation() != want || peer.NeedsRenegotiation() != want {
			t.Fatalf("%s: at the usage limit send %v receive %v, want %v", c, k.NeedsRenegotiation(), peer.NeedsRenegotiation(), want)
		}
	}
}
