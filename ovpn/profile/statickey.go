package profile

import (
	"encoding/pem"
	"fmt"

	"github.com/cvpn/cvpn/ovpn/statickey"
)

// StaticKeySize is the size of an OpenVPN static key (2048 bits).
const StaticKeySize = statickey.Size

const tlsCryptV2Type = "OpenVPN tls-crypt-v2 client key"

// StaticKey is an OpenVPN static key as used by tls-auth and tls-crypt:
// two slots of {cipher key [64], HMAC key [64]}.
type StaticKey struct {
	raw [StaticKeySize]byte
}

// KeySlot is one half of a static key.
type KeySlot struct {
	Cipher [64]byte
	HMAC   [64]byte
}

// NewStaticKey builds a key from its 256 raw bytes.
func NewStaticKey(raw []byte) (*StaticKey, error) {
	if len(raw) != StaticKeySize {
		return nil, fmt.Errorf("static key must be %d bytes, got %d", StaticKeySize, len(raw))
	}
	k := &StaticKey{}
	copy(k.raw[:], raw)
	return k, nil
}

// ParseStaticKey reads the "-----BEGIN OpenVPN Static key V1-----" text
// format with statickey.Parse.
func ParseStaticKey(text []byte) (*StaticKey, error) {
	k, err := statickey.Parse(text)
	if err != nil {
		return nil, err
	}
	return &StaticKey{raw: k}, nil
}

// Bytes returns a copy of the 256 key bytes.
func (k *StaticKey) Bytes() []byte { return append([]byte(nil), k.raw[:]...) }

// Slot returns key slot 0 or 1.
func (k *StaticKey) Slot(i int) KeySlot {
	var s KeySlot
	off := (i & 1) * 128
	copy(s.Cipher[:], k.raw[off:off+64])
	copy(s.HMAC[:], k.raw[off+64:off+128])
	return s
}

// Directional returns the slots used to send and to receive for a key
// direction: direction 0 sends with slot 0 and receives with slot 1,
// direction 1 the reverse, and no direction uses slot 0 both ways.
// tls-crypt clients use direction 1, servers direction 0.
func (k *StaticKey) Directional(dir KeyDirection) (send, recv KeySlot) {
	switch dir {
	case KeyDirection0:
		return k.Slot(0), k.Slot(1)
	case KeyDirection1:
		return k.Slot(1), k.Slot(0)
	}
	return k.Slot(0), k.Slot(0)
}

// Marshal writes the key in the OpenVPN static key text format.
func (k *StaticKey) Marshal() []byte { return statickey.Key(k.raw).PEM() }

// String never shows key material.
func (k *StaticKey) String() string { return "OpenVPN static key (2048 bits, redacted)" }

// GoString never shows key material.
func (k *StaticKey) GoString() string { return k.String() }

// TLSCryptV2Key is a tls-crypt-v2 client key: the client's own tls-crypt
// key Kc and the wrapped key WKc the client sends to the server.
type TLSCryptV2Key struct {
	Key     *StaticKey
	Wrapped []byte
}

// ParseTLSCryptV2ClientKey reads a "-----BEGIN OpenVPN tls-crypt-v2 client
// key-----" PEM block.
func ParseTLSCryptV2ClientKey(text []byte) (*TLSCryptV2Key, error) {
	blk, _ := pem.Decode(text)
	if blk == nil || blk.Type != tlsCryptV2Type {
		return nil, fmt.Errorf("no %q PEM block found", tlsCryptV2Type)
	}
	// WKc is at least a 32-byte tag and a 2-byte length.
	if len(blk.Bytes) < StaticKeySize+34 {
		return nil, fmt.Errorf("tls-crypt-v2 client key is too short (%d bytes)", len(blk.Bytes))
	}
	k, err := NewStaticKey(blk.Bytes[:StaticKeySize])
	if err != nil {
		return nil, err
	}
	return &TLSCryptV2Key{Key: k, Wrapped: append([]byte(nil), blk.Bytes[StaticKeySize:]...)}, nil
}

// String never shows key material.
func (k *TLSCryptV2Key) String() string { return "tls-crypt-v2 client key (redacted)" }
