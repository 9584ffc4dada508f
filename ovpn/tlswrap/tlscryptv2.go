package tlswrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// tls-crypt-v2 constants (OpenVPN doc/tls-crypt-v2.txt).
const (
	// EarlyNegStart is the replay id a tls-crypt-v2 client puts on its
	// HARD_RESET_CLIENT_V3 (top byte 0x0f) to say it can resend WKc in its
	// third packet (P_CONTROL_WKC_V1), so the server may stay stateless.
	EarlyNegStart = 0x0f000000
	// earlyNegMask selects the early-negotiation marker byte.
	earlyNegMask = 0xff000000
	// TLVEarlyNegFlags is the TLV type of the flags in a server's reset
	// payload; FlagResendWKC asks the client to resend WKc.
	TLVEarlyNegFlags = 0x0001
	FlagResendWKC    = 0x0001

	// MetadataUser and MetadataTimestamp are the first byte of a client
	// key's metadata: free-form data or a 64-bit big-endian Unix time of
	// key generation.
	MetadataUser      = 0x00
	MetadataTimestamp = 0x01

	// wkcMinLen is a WKc of tag, Kc and length field without metadata.
	wkcMinLen = tcTagLen + StaticKeyLen + 2
	// WKcMaxLen bounds a wrapped client key (OpenVPN: 1024 bytes).
	WKcMaxLen = 1024
)

// ErrWKc is wrapped by errors about a wrapped client key that cannot be
// unwrapped (bad length, tag mismatch: wrong server key).
var ErrWKc = errors.New("tls-crypt-v2 wrapped client key rejected")

// ErrKeyAge is wrapped by errors about a client key refused for its age
// (or for having no timestamp while a maximum age is set).
var ErrKeyAge = errors.New("tls-crypt-v2 client key refused by its age")

// TLSCryptV2Client is the client side of --tls-crypt-v2: tls-crypt with
// the client's own key Kc, and the wrapped key WKc appended (unencrypted)
// to HARD_RESET_CLIENT_V3 and P_CONTROL_WKC_V1 packets.
type TLSCryptV2Client struct {
	*TLSCrypt
	wkc []byte
}

// NewTLSCryptV2Client builds the client wrapper from Kc and WKc (the two
// parts of a "OpenVPN tls-crypt-v2 client key" PEM block). Its first
// replay id carries the early-negotiation marker.
func NewTLSCryptV2Client(kc [StaticKeyLen]byte, wkc []byte, now func() time.Time) (*TLSCryptV2Client, error) {
	if len(wkc) < wkcMinLen || len(wkc) > WKcMaxLen {
		return nil, fmt.Errorf("tlswrap: tls-crypt-v2 wrapped client key of %d bytes (want %d..%d)", len(wkc), wkcMinLen, WKcMaxLen)
	}
	if n := int(binary.BigEndian.Uint16(wkc[len(wkc)-2:])); n != len(wkc) {
		return nil, fmt.Errorf("tlswrap: tls-crypt-v2 wrapped client key says %d bytes but has %d", n, len(wkc))
	}
	tc, err := NewTLSCrypt(kc, wire.RoleClient, now)
	if err != nil {
		return nil, err
	}
	tc.SetNextSendID(EarlyNegStart + 1)
	return &TLSCryptV2Client{TLSCrypt: tc, wkc: append([]byte(nil), wkc...)}, nil
}

// Mode returns "tls-crypt-v2".
func (c *TLSCryptV2Client) Mode() string { return "tls-crypt-v2" }

// Overhead includes WKc, which the first packets carry.
func (c *TLSCryptV2Client) Overhead() int { return c.TLSCrypt.Overhead() + len(c.wkc) }

// WKcLen is the number of bytes WKc adds to the packets that carry it.
func (c *TLSCryptV2Client) WKcLen() int { return len(c.wkc) }

// Wrap wraps plain with Kc and appends WKc to the packets that carry it.
func (c *TLSCryptV2Client) Wrap(dst, plain []byte) ([]byte, error) {
	dst, err := c.TLSCrypt.Wrap(dst, plain)
	if err != nil {
		return dst, err
	}
	if op := wire.Opcode(plain[0] >> 3); op == wire.OpHardResetClientV3 || op == wire.OpControlWKCV1 {
		dst = append(dst, c.wkc...)
	}
	return dst, nil
}

// ServerResetFlags reads the early-negotiation TLVs of a server's
// HARD_RESET_SERVER_V2 payload and returns the flags (0 when absent).
// Unknown TLV types are skipped; a truncated TLV is an error.
func ServerResetFlags(payload []byte) (uint16, error) {
	var flags uint16
	for len(payload) > 0 {
		if len(payload) < 4 {
			return 0, fmt.Errorf("tlswrap: early negotiation TLV of %d bytes is truncated", len(payload))
		}
		typ, n := binary.BigEndian.Uint16(payload), int(binary.BigEndian.Uint16(payload[2:]))
		payload = payload[4:]
		if len(payload) < n {
			return 0, fmt.Errorf("tlswrap: early negotiation TLV type %d says %d bytes, %d left", typ, n, len(payload))
		}
		if typ == TLVEarlyNegFlags {
			if n != 2 {
				return 0, fmt.Errorf("tlswrap: early negotiation flags TLV of %d bytes, want 2", n)
			}
			flags = binary.BigEndian.Uint16(payload)
		}
		payload = payload[n:]
	}
	return flags, nil
}

// AppendServerResetFlags appends the flags TLV a server puts in its reset
// payload to ask for WKc again.
func AppendServerResetFlags(dst []byte, flags uint16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, TLVEarlyNegFlags)
	dst = binary.BigEndian.AppendUint16(dst, 2)
	return binary.BigEndian.AppendUint16(dst, flags)
}

// V2ServerKey is a tls-crypt-v2 server key: Ke (first 256 bits of the
// first 512-bit half) encrypts client keys, Ka (first 256 bits of the
// second half) authenticates them.
type V2ServerKey struct {
	ke [32]byte
	ka [32]byte
}

// NewV2ServerKey builds the server key from the 128 bytes of a
// "OpenVPN tls-crypt-v2 server key" PEM block.
func NewV2ServerKey(raw []byte) (*V2ServerKey, error) {
	if len(raw) != 128 {
		return nil, fmt.Errorf("tlswrap: tls-crypt-v2 server key must be 128 bytes, got %d", len(raw))
	}
	k := &V2ServerKey{}
	copy(k.ke[:], raw[:32])
	copy(k.ka[:], raw[64:96])
	return k, nil
}

// WrapClientKey makes WKc = T || AES-256-CTR(Ke, T[:16], Kc || metadata)
// || len with T = HMAC-SHA256(Ka, len || Kc || metadata).
func (k *V2ServerKey) WrapClientKey(kc [StaticKeyLen]byte, metadata []byte) ([]byte, error) {
	n := tcTagLen + StaticKeyLen + len(metadata) + 2
	if n > WKcMaxLen {
		return nil, fmt.Errorf("tlswrap: tls-crypt-v2 metadata of %d bytes is too long (wrapped key over %d bytes)", len(metadata), WKcMaxLen)
	}
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(n))
	mac := hmac.New(sha256.New, k.ka[:])
	mac.Write(l[:])
	mac.Write(kc[:])
	mac.Write(metadata)
	out := mac.Sum(make([]byte, 0, n))
	ct := len(out)
	out = append(out, kc[:]...)
	out = append(out, metadata...)
	blk, err := aes.NewCipher(k.ke[:])
	if err != nil {
		return nil, err
	}
	cipher.NewCTR(blk, out[:16]).XORKeyStream(out[ct:], out[ct:])
	return append(out, l[:]...), nil
}

// UnwrapClientKey checks and decrypts WKc and returns Kc and the metadata.
func (k *V2ServerKey) UnwrapClientKey(wkc []byte) (kc [StaticKeyLen]byte, metadata []byte, err error) {
	if len(wkc) < wkcMinLen || len(wkc) > WKcMaxLen {
		return kc, nil, fmt.Errorf("tlswrap: wrapped client key of %d bytes: %w", len(wkc), ErrWKc)
	}
	if n := int(binary.BigEndian.Uint16(wkc[len(wkc)-2:])); n != len(wkc) {
		return kc, nil, fmt.Errorf("tlswrap: wrapped client key says %d bytes, has %d: %w", n, len(wkc), ErrWKc)
	}
	blk, err := aes.NewCipher(k.ke[:])
	if err != nil {
		return kc, nil, err
	}
	plain := make([]byte, len(wkc)-tcTagLen-2)
	cipher.NewCTR(blk, wkc[:16]).XORKeyStream(plain, wkc[tcTagLen:len(wkc)-2])
	mac := hmac.New(sha256.New, k.ka[:])
	mac.Write(wkc[len(wkc)-2:])
	mac.Write(plain)
	if subtle.ConstantTimeCompare(mac.Sum(nil), wkc[:tcTagLen]) != 1 {
		clear(plain)
		return kc, nil, fmt.Errorf("tlswrap: wrapped client key tag mismatch (another server key?): %w", ErrWKc)
	}
	copy(kc[:], plain)
	clear(plain[:StaticKeyLen])
	return kc, plain[StaticKeyLen:], nil
}

// SplitWKc splits a HARD_RESET_CLIENT_V3 or P_CONTROL_WKC_V1 packet into
// the tls-crypt packet and the WKc appended to it (its length is the last
// two bytes).
func SplitWKc(pkt []byte) (wrapped, wkc []byte, err error) {
	if len(pkt) < 2 {
		return nil, nil, fmt.Errorf("tlswrap: packet of %d bytes has no wrapped client key: %w", len(pkt), ErrWKc)
	}
	n := int(binary.BigEndian.Uint16(pkt[len(pkt)-2:]))
	if n < wkcMinLen || n > WKcMaxLen || n > len(pkt)-tcHdrLen-tcTagLen {
		return nil, nil, fmt.Errorf("tlswrap: wrapped client key length %d in a %d-byte packet: %w", n, len(pkt), ErrWKc)
	}
	return pkt[:len(pkt)-n], pkt[len(pkt)-n:], nil
}

// EarlyNegotiation reports whether a still-wrapped HARD_RESET_CLIENT_V3
// carries the early-negotiation replay id (the client resends WKc when
// asked). The replay id is outside the encryption.
func EarlyNegotiation(pkt []byte) bool {
	if len(pkt) < tcHdrLen {
		return false
	}
	return binary.BigEndian.Uint32(pkt[hdrLen:])&earlyNegMask == EarlyNegStart
}

// KeyTimestamp returns the key generation time of TIMESTAMP metadata.
func KeyTimestamp(metadata []byte) (time.Time, bool) {
	if len(metadata) < 9 || metadata[0] != MetadataTimestamp {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(metadata[1:])), 0), true
}
