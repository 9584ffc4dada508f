package keys

import (
	"encoding/hex"
	"testing"
)

// The expected values were computed independently from the formula in
// docs/openvpn-27-wire.md (HMAC-SHA256 HKDF-Expand over the OVPN label) with
// Python's hmac module, secret = bytes 0..31.
func TestExpandLabelVectors(t *testing.T) {
	var e1 EpochKey
	e1.Epoch = 1
	for i := range e1.Secret {
		e1.Secret[i] = byte(i)
	}
	hx := func(b []byte) string { return hex.EncodeToString(b) }
	e2, err := e1.Next()
	if err != nil {
		t.Fatal(err)
	}
	if e2.Epoch != 2 || hx(e2.Secret[:]) != "e35bffa31e2723bf09e8d394fa9171ca4e534553bffa1d3482de4c9b3bc639d7" {
		t.Fatalf("E2 = %d %x", e2.Epoch, e2.Secret)
	}
	e3, _ := e2.Next()
	if hx(e3.Secret[:]) != "f42019f62ea8cd6a2dc9e3e0778903253a1320d2c87f27e15e0494b796665101" {
		t.Fatalf("E3 = %x", e3.Secret)
	}
	k, iv, err := e1.DataKey(32)
	if err != nil || hx(k) != "ebbbf838a8658beb56f2324d691351bd4c8c230fb271ada8f67de830b7ee3192" || hx(iv[:]) != "568de14f8f744bfb0b721f66" {
		t.Fatalf("epoch 1 key %x iv %x err %v", k, iv, err)
	}
	k16, _, _ := e1.DataKey(16)
	if hx(k16) != "c0b015350de890ee8e1849d2c29a1b94" {
		t.Fatalf("AES-128 key %x (the length is part of the label, so it is not a prefix of the 32-byte key)", k16)
	}
	long, err := ExpandLabel(e1.Secret[:], "x", []byte("ctx"), 40)
	if err != nil || hx(long) != "34e5a6f536c44a2897650a8fb70e59e0a0dd2b4d088aa493729e48173d6e2f5ee7587a1698bbf16d" {
		t.Fatalf("two-block expand %x %v", long, err)
	}
	if _, err := ExpandLabel(e1.Secret[:16], "x", nil, 8); err == nil {
		t.Fatal("16-byte secret accepted")
	}
	last := EpochKey{Epoch: 0xFFFF}
	if _, err := last.Next(); err == nil {
		t.Fatal("epoch 65535 iterated")
	}
}
