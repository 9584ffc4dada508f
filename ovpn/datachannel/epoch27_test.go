package datachannel

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Captured from OpenVPN 2.7.8 (Debian sid) as the server of a cvpn client
// in the lab, PRF key derivation, --verb 9 (2026-12-07): the key method 2
// material and session ids from its log, and the AES-256-GCM epoch keys it
// derived ("Outgoing/Incoming Epoch Data key N: CIPHER KEY"). Our key
// block, E1 and OVPN-Expand-Label must give the same keys.
var capture27 = struct {
	preMaster, cRand1, cRand2, sRand1, sRand2, clientSID, serverSID string
	serverSend1                                                     string
	serverRecv                                                      []string // epochs 1..5
}{
	preMaster:   "574e6852 07b76285 b26d2596 eb53bb7d 12a32891 495b3115 fb661dc9 3b136cc0 61994bd2 51d08fa8 cfee00da d8f45aa1",
	cRand1:      "fbab40e2 6f3bb177 77ace20e 7763f7c4 184eaae5 0a7dab24 b35e3ba4 b07b331b",
	cRand2:      "9c485ac1 b43e1cac 08384a95 7297da66 55929f11 c3efbc3f cdd4346d 14a1e93f",
	sRand1:      "aa243e5f c65ece52 f94b7626 671e0fa5 0b14d746 56deef3f 74266364 fd383b7d",
	sRand2:      "8db7855f a730bc99 cfa300ac c748d0fd 7224f1f5 eaa2a713 25b27ad2 174ad780",
	clientSID:   "3387da46 a0d78019",
	serverSID:   "f831809d a843d314",
	serverSend1: "f7e6cdcd 856ab43b f0cc773d 58d5c9a3 0bdd321b 1b262751 253ff68e 16de3283",
	serverRecv: []string{
		"1335ef3c 3c9e38b8 b7b3ebfa 0f7832e5 6990d597 402f6687 2d67b204 83da56c8",
		"e5da91c7 19fc092e bc8e1614 368cd71a c8a4aafa 6ef7bdbe 0d4b14c5 dd02755d",
		"f688e19d 7386972d cb9bfd79 4024ac07 c93cb530 9d8ea66f 0f06d117 b9b06a26",
		"e3f2cc04 d2fe1bcb f8cd28c8 c9c44004 82384586 eab45973 fb294537 bccd050d",
		"e0ee5471 1045109f 976affa5 8042fe40 856aec2d 00d9151b fe21e351 2aa1bf40",
	},
}

func unhex(t *testing.T, dst []byte, s string) {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil || len(b) != len(dst) {
		t.Fatalf("capture %q: %v (%d bytes, want %d)", s, err, len(b), len(dst))
	}
	copy(dst, b)
}

func TestEpochKeysMatchOpenVPN27(t *testing.T) {
	c := capture27
	var in keys.PRFInput
	unhex(t, in.PreMaster[:], c.preMaster)
	unhex(t, in.ClientRandom1[:], c.cRand1)
	unhex(t, in.ClientRandom2[:], c.cRand2)
	unhex(t, in.ServerRandom1[:], c.sRand1)
	unhex(t, in.ServerRandom2[:], c.sRand2)
	unhex(t, in.ClientSessionID[:], c.clientSID)
	unhex(t, in.ServerSessionID[:], c.serverSID)
	kb := keys.DeriveKeyBlock(&in)
	send, recv := keys.FirstEpochKeys(kb.SendCipher(wire.RoleServer), kb.RecvCipher(wire.RoleServer))
	hx := func(b []byte) string { return hex.EncodeToString(b) }
	want := func(s string) string { return strings.ReplaceAll(s, " ", "") }
	k, _, err := send.DataKey(32)
	if err != nil || hx(k) != want(c.serverSend1) {
		t.Fatalf("server send epoch 1 key %x, OpenVPN 2.7 has %s", k, c.serverSend1)
	}
	e := recv
	for i, w := range c.serverRecv {
		k, _, _ := e.DataKey(32)
		if hx(k) != want(w) {
			t.Fatalf("server receive epoch %d key %x, OpenVPN 2.7 has %s", e.Epoch, k, w)
		}
		if e.Epoch != uint16(i+1) {
			t.Fatalf("epoch %d at step %d", e.Epoch, i)
		}
		e, _ = e.Next()
	}
}
