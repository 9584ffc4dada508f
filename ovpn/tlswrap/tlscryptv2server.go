package tlswrap

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// PEM block types of tls-crypt-v2 keys.
const (
	V2ServerKeyPEMType = "OpenVPN tls-crypt-v2 server key"
	V2ClientKeyPEMType = "OpenVPN tls-crypt-v2 client key"
)

// ParseV2ServerKey reads a "-----BEGIN OpenVPN tls-crypt-v2 server
// key-----" PEM block (as made by openvpn --genkey tls-crypt-v2-server).
func ParseV2ServerKey(text []byte) (*V2ServerKey, error) {
	blk, _ := pem.Decode(text)
	if blk == nil || blk.Type != V2ServerKeyPEMType {
		return nil, fmt.Errorf("no %q PEM block found", V2ServerKeyPEMType)
	}
	return NewV2ServerKey(blk.Bytes)
}

// NewV2ServerKeyPEM makes a random tls-crypt-v2 server key in PEM form.
func NewV2ServerKeyPEM(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	raw := make([]byte, 128)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: V2ServerKeyPEMType, Bytes: raw}), nil
}

// NewClientKeyPEM makes a random client key Kc with TIMESTAMP metadata
// (generation time now), wraps it and returns the client key in PEM form
// (Kc || WKc), as openvpn --genkey tls-crypt-v2-client does.
func (k *V2ServerKey) NewClientKeyPEM(r io.Reader, now time.Time) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	var kc [StaticKeyLen]byte
	if _, err := io.ReadFull(r, kc[:]); err != nil {
		return nil, err
	}
	md := binary.BigEndian.AppendUint64([]byte{MetadataTimestamp}, uint64(now.Unix()))
	wkc, err := k.WrapClientKey(kc, md)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: V2ClientKeyPEMType, Bytes: append(kc[:], wkc...)})
	clear(kc[:])
	return out, nil
}

// V2ClientInfo is what the server learnt from a client's WKc.
type V2ClientInfo struct {
	// Metadata is the key's metadata (type byte first).
	Metadata []byte
	// Created is the key generation time of TIMESTAMP metadata (zero
	// otherwise).
	Created time.Time
}

// AcceptV2 reads the WKc appended to a HARD_RESET_CLIENT_V3 or
// P_CONTROL_WKC_V1 packet, unwraps it and, when maxAge > 0, rejects keys
// without a timestamp or older than maxAge (--tls-crypt-v2-max-age). It
// returns the server's wrapper for this client (tls-crypt with Kc), whose
// Unwrap takes pkt as it is (with WKc).
func (k *V2ServerKey) AcceptV2(pkt []byte, maxAge time.Duration, now func() time.Time) (*TLSCryptV2Server, V2ClientInfo, error) {
	var info V2ClientInfo
	if now == nil {
		now = time.Now
	}
	_, wkc, err := SplitWKc(pkt)
	if err != nil {
		return nil, info, err
	}
	kc, md, err := k.UnwrapClientKey(wkc)
	if err != nil {
		return nil, info, err
	}
	info.Metadata = md
	info.Created, _ = KeyTimestamp(md)
	if maxAge > 0 {
		if info.Created.IsZero() {
			return nil, info, fmt.Errorf("tlswrap: tls-crypt-v2 client key has no timestamp and a maximum age is set: %w", ErrKeyAge)
		}
		if age := now().Sub(info.Created); age > maxAge {
			return nil, info, fmt.Errorf("tlswrap: tls-crypt-v2 client key made %s is older than the maximum age (%s): %w",
				info.Created.UTC().Format(time.DateOnly), maxAge, ErrKeyAge)
		}
	}
	tc, err := NewTLSCrypt(kc, wire.RoleServer, now)
	if err != nil {
		return nil, info, err
	}
	return &TLSCryptV2Server{TLSCrypt: tc, kc: kc}, info, nil
}

// TLSCryptV2Server is the server side of one tls-crypt-v2 client: tls-crypt
// with the client's Kc; the WKc a client appends to HARD_RESET_CLIENT_V3
// and P_CONTROL_WKC_V1 is removed before unwrapping.
type TLSCryptV2Server struct {
	*TLSCrypt
	kc [StaticKeyLen]byte // for dynamic tls-crypt
}

// ClientKey returns a copy of the client's key Kc (dynamic tls-crypt
// mixes it into the renegotiation key).
func (c *TLSCryptV2Server) ClientKey() []byte { return append([]byte(nil), c.kc[:]...) }

// Mode returns "tls-crypt-v2".
func (c *TLSCryptV2Server) Mode() string { return "tls-crypt-v2" }

// Unwrap strips an appended WKc and unwraps with Kc (replay checked).
func (c *TLSCryptV2Server) Unwrap(pkt []byte) ([]byte, error) {
	pkt, err := stripWKc(pkt)
	if err != nil {
		return nil, err
	}
	return c.TLSCrypt.Unwrap(pkt)
}

// UnwrapNoReplay strips an appended WKc and unwraps with Kc.
func (c *TLSCryptV2Server) UnwrapNoReplay(pkt []byte) ([]byte, error) {
	pkt, err := stripWKc(pkt)
	if err != nil {
		return nil, err
	}
	return c.TLSCrypt.UnwrapNoReplay(pkt)
}

func stripWKc(pkt []byte) ([]byte, error) {
	if len(pkt) == 0 {
		return pkt, nil
	}
	if op := wire.Opcode(pkt[0] >> 3); op != wire.OpHardResetClientV3 && op != wire.OpControlWKCV1 {
		return pkt, nil
	}
	w, _, err := SplitWKc(pkt)
	return w, err
}
