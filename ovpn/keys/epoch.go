package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Epoch data keys (OpenVPN 2.7, IV_PROTO bit 10, "aead-epoch"); see
// docs/openvpn-27-wire.md. Each direction starts from E1 = the first 32
// bytes of that direction's cipher key in the key block; E(n+1) =
// OVPN-Expand-Label(E(n), "datakey upd", "", 32); epoch n's AEAD key is
// OVPN-Expand-Label(E(n), "data_key", "", key size) and its implicit IV
// OVPN-Expand-Label(E(n), "data_iv", "", 12).

// EpochSecretLen is the size of an epoch key E(n).
const EpochSecretLen = 32

// EpochIVLen is the size of an epoch's implicit IV.
const EpochIVLen = 12

// ExpandLabel is OpenVPN's OVPN-Expand-Label: HKDF-Expand with SHA-256 of
// secret (32 bytes) over the info uint16(n) | uint8(len("ovpn "+label)) |
// "ovpn " | label | uint8(len(context)) | context, giving n bytes.
func ExpandLabel(secret []byte, label string, context []byte, n int) ([]byte, error) {
	if len(secret) != EpochSecretLen || len(label) < 1 || len(label) > 250 || len(context) > 255 || n > 255*sha256.Size {
		return nil, fmt.Errorf("keys: OVPN-Expand-Label: secret %d bytes, label %d, context %d, output %d: out of range", len(secret), len(label), len(context), n)
	}
	info := binary.BigEndian.AppendUint16(make([]byte, 0, 2+1+5+len(label)+1+len(context)), uint16(n))
	info = append(info, byte(5+len(label)))
	info = append(info, "ovpn "...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	return hkdf.Expand(sha256.New, secret, string(info), n)
}

// EpochKey is one direction's epoch key E(n).
type EpochKey struct {
	Epoch  uint16
	Secret [EpochSecretLen]byte
}

// FirstEpochKeys returns E1 for sending and for receiving: the first 32
// bytes of the key block's send and receive cipher keys
// (kb.SendCipher(role), kb.RecvCipher(role)).
func FirstEpochKeys(sendCipher, recvCipher []byte) (send, recv EpochKey) {
	send.Epoch, recv.Epoch = 1, 1
	copy(send.Secret[:], sendCipher)
	copy(recv.Secret[:], recvCipher)
	return send, recv
}

// Next returns E(n+1).
func (e EpochKey) Next() (EpochKey, error) {
	if e.Epoch == 0xFFFF {
		return EpochKey{}, fmt.Errorf("keys: epoch %d is the last one", e.Epoch)
	}
	s, err := ExpandLabel(e.Secret[:], "datakey upd", nil, EpochSecretLen)
	if err != nil {
		return EpochKey{}, err
	}
	n := EpochKey{Epoch: e.Epoch + 1}
	copy(n.Secret[:], s)
	Zeroize(s)
	return n, nil
}

// DataKey derives epoch n's AEAD key (keySize bytes) and implicit IV.
func (e EpochKey) DataKey(keySize int) (key []byte, iv [EpochIVLen]byte, err error) {
	if key, err = ExpandLabel(e.Secret[:], "data_key", nil, keySize); err != nil {
		return nil, iv, err
	}
	v, err := ExpandLabel(e.Secret[:], "data_iv", nil, EpochIVLen)
	if err != nil {
		return nil, iv, err
	}
	copy(iv[:], v)
	Zeroize(v)
	return key, iv, nil
}

// Zero clears the secret.
func (e *EpochKey) Zero() { Zeroize(e.Secret[:]) }
