package tlswrap

import (
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// DynamicTLSCryptLabel is the TLS exporter label of dynamic tls-crypt
// (OpenVPN 2.7, IV_PROTO bit 9, pushed protocol-flags dyn-tls-crypt).
const DynamicTLSCryptLabel = "EXPORTER-OpenVPN-dynamic-tls-crypt"

// Exporter is the RFC 5705 keying material exporter of a finished TLS
// session (*tls.ConnectionState).
type Exporter interface {
	ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error)
}

// NewDynamicTLSCrypt derives the tls-crypt wrapper that protects every
// renegotiation (key_id > 0) after the first TLS session: 256 bytes from
// the exporter, XORed with the static key the session started with
// (tls-crypt or tls-auth key, or the tls-crypt-v2 client key Kc; none when
// original is nil), used as a tls-crypt key with a fresh replay id.
func NewDynamicTLSCrypt(e Exporter, original []byte, role wire.Role, now func() time.Time) (*TLSCrypt, error) {
	if original != nil && len(original) != StaticKeyLen {
		return nil, fmt.Errorf("tlswrap: dynamic tls-crypt: original key of %d bytes, want %d", len(original), StaticKeyLen)
	}
	b, err := e.ExportKeyingMaterial(DynamicTLSCryptLabel, nil, StaticKeyLen)
	if err != nil {
		return nil, fmt.Errorf("tlswrap: dynamic tls-crypt needs the TLS exporter: %w", err)
	}
	if len(b) != StaticKeyLen {
		return nil, fmt.Errorf("tlswrap: exporter returned %d bytes, want %d", len(b), StaticKeyLen)
	}
	var k [StaticKeyLen]byte
	copy(k[:], b)
	clear(b)
	for i := range original {
		k[i] ^= original[i]
	}
	defer clear(k[:])
	return NewTLSCrypt(k, role, now)
}
