package keys

import (
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// Sizes of the OpenVPN key material.
const (
	KeyBlockSize  = 256 // two directions of {cipher[64], hmac[64]}
	SlotSize      = 64  // one cipher or hmac slot
	PreMasterSize = 48
	RandomSize    = 32
	SessionIDSize = 8
	masterSize    = 48
)

// EKMLabel is the RFC 5705 exporter label OpenVPN uses for data channel keys.
const EKMLabel = "EXPORTER-OpenVPN-datakeys"

// KeyBlock is the 256-byte data channel key material:
// [0:64] cipher client->server, [64:128] hmac client->server,
// [128:192] cipher server->client, [192:256] hmac server->client.
// A key or implicit IV takes the first N bytes of its slot.
type KeyBlock [KeyBlockSize]byte

func (b *KeyBlock) slot(clientToServer bool, hmacPart bool) []byte {
	off := 0
	if !clientToServer {
		off = 128
	}
	if hmacPart {
		off += SlotSize
	}
	return b[off : off+SlotSize : off+SlotSize]
}

// SendCipher returns the 64-byte cipher key slot role r encrypts with.
func (b *KeyBlock) SendCipher(r wire.Role) []byte { return b.slot(r == wire.RoleClient, false) }

// SendHMAC returns the 64-byte hmac slot role r authenticates outgoing
// packets with; for AEAD ciphers its first 8 bytes are the implicit IV.
func (b *KeyBlock) SendHMAC(r wire.Role) []byte { return b.slot(r == wire.RoleClient, true) }

// RecvCipher returns the 64-byte cipher key slot role r decrypts with.
func (b *KeyBlock) RecvCipher(r wire.Role) []byte { return b.slot(r != wire.RoleClient, false) }

// RecvHMAC returns the 64-byte hmac (or implicit IV) slot role r verifies
// incoming packets with.
func (b *KeyBlock) RecvHMAC(r wire.Role) []byte { return b.slot(r != wire.RoleClient, true) }

// Zero overwrites the key block with zeros.
func (b *KeyBlock) Zero() { Zeroize(b[:]) }

// Zeroize overwrites b with zeros.
func Zeroize(b []byte) { clear(b) }

// PRFInput is the material exchanged in key method 2 that feeds the
// classic (non-EKM) OpenVPN key expansion.
type PRFInput struct {
	PreMaster       [PreMasterSize]byte // sent by the client only
	ClientRandom1   [RandomSize]byte
	ClientRandom2   [RandomSize]byte
	ServerRandom1   [RandomSize]byte
	ServerRandom2   [RandomSize]byte
	ClientSessionID [SessionIDSize]byte
	ServerSessionID [SessionIDSize]byte
}

// Zero wipes the secret inputs.
func (in *PRFInput) Zero() {
	Zeroize(in.PreMaster[:])
	Zeroize(in.ClientRandom1[:])
	Zeroize(in.ClientRandom2[:])
	Zeroize(in.ServerRandom1[:])
	Zeroize(in.ServerRandom2[:])
}

// DeriveKeyBlock runs the OpenVPN PRF key expansion:
//
//	master = PRF(pre_master, "OpenVPN master secret", c.random1 || s.random1, 48)
//	block  = PRF(master, "OpenVPN key expansion", c.random2 || s.random2 || c.sid || s.sid, 256)
func DeriveKeyBlock(in *PRFInput) *KeyBlock {
	var master [masterSize]byte
	PRF(master[:], in.PreMaster[:], []byte("OpenVPN master secret"),
		in.ClientRandom1[:], in.ServerRandom1[:])
	kb := new(KeyBlock)
	PRF(kb[:], master[:], []byte("OpenVPN key expansion"),
		in.ClientRandom2[:], in.ServerRandom2[:], in.ClientSessionID[:], in.ServerSessionID[:])
	Zeroize(master[:])
	return kb
}

// Exporter is implemented by tls.ConnectionState (RFC 5705 exporter).
type Exporter interface {
	ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error)
}

var _ Exporter = (*tls.ConnectionState)(nil)

// ErrNoEKM is returned when the TLS session cannot export keying material
// (TLS 1.2 without extended master secret).
var ErrNoEKM = errors.New("keys: TLS session cannot export keying material (needs TLS 1.3 or extended master secret)")

// ExportKeyBlock derives the key block with the TLS exporter method
// (label "EXPORTER-OpenVPN-datakeys", no context, 256 bytes).
func ExportKeyBlock(e Exporter) (*KeyBlock, error) {
	b, err := e.ExportKeyingMaterial(EKMLabel, nil, KeyBlockSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoEKM, err)
	}
	if len(b) != KeyBlockSize {
		return nil, fmt.Errorf("keys: exporter returned %d bytes, want %d", len(b), KeyBlockSize)
	}
	kb := new(KeyBlock)
	copy(kb[:], b)
	Zeroize(b)
	return kb, nil
}
