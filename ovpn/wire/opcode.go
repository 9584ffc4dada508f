package wire

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
)

// Opcode is the 5-bit packet type carried in the high bits of byte 0.
type Opcode uint8

// OpenVPN opcodes. Opcodes 1 and 2 (HARD_RESET_*_V1) are obsolete and are
// rejected by ParseHeader.
const (
	OpSoftResetV1       Opcode = 3
	OpControlV1         Opcode = 4
	OpAckV1             Opcode = 5
	OpDataV1            Opcode = 6
	OpHardResetClientV2 Opcode = 7
	OpHardResetServerV2 Opcode = 8
	OpDataV2            Opcode = 9
	OpHardResetClientV3 Opcode = 10
	OpControlWKCV1      Opcode = 11
)

// KeyIDMask selects the key id from byte 0.
const KeyIDMask = 0x07

// String returns the OpenVPN name of the opcode.
func (o Opcode) String() string {
	switch o {
	case OpSoftResetV1:
		return "P_CONTROL_SOFT_RESET_V1"
	case OpControlV1:
		return "P_CONTROL_V1"
	case OpAckV1:
		return "P_ACK_V1"
	case OpDataV1:
		return "P_DATA_V1"
	case OpHardResetClientV2:
		return "P_CONTROL_HARD_RESET_CLIENT_V2"
	case OpHardResetServerV2:
		return "P_CONTROL_HARD_RESET_SERVER_V2"
	case OpDataV2:
		return "P_DATA_V2"
	case OpHardResetClientV3:
		return "P_CONTROL_HARD_RESET_CLIENT_V3"
	case OpControlWKCV1:
		return "P_CONTROL_WKC_V1"
	}
	return fmt.Sprintf("opcode(%d)", uint8(o))
}

// Valid reports whether o is an opcode this implementation accepts.
func (o Opcode) Valid() bool { return o >= OpSoftResetV1 && o <= OpControlWKCV1 }

// IsData reports whether o is a data-channel opcode (DATA_V1 or DATA_V2).
func (o Opcode) IsData() bool { return o == OpDataV1 || o == OpDataV2 }

// IsControl reports whether o is a control-channel opcode (every valid
// opcode that is not a data opcode).
func (o Opcode) IsControl() bool { return o.Valid() && !o.IsData() }

// IsReset reports whether o starts a key negotiation (hard or soft reset).
func (o Opcode) IsReset() bool {
	return o == OpSoftResetV1 || o == OpHardResetClientV2 || o == OpHardResetServerV2 || o == OpHardResetClientV3
}

// HasPacketID reports whether control packets of this opcode carry a
// reliability packet id (every control opcode except ACK_V1).
func (o Opcode) HasPacketID() bool { return o.IsControl() && o != OpAckV1 }

// Header builds byte 0 from an opcode and a key id (0..7).
func Header(op Opcode, keyID uint8) byte { return byte(op)<<3 | keyID&KeyIDMask }

// ParseHeader splits byte 0 into opcode and key id. It rejects the obsolete
// opcodes 1 and 2 and every unknown opcode.
func ParseHeader(b byte) (Opcode, uint8, error) {
	op := Opcode(b >> 3)
	if op == 1 || op == 2 {
		return 0, 0, fmt.Errorf("wire: obsolete opcode %d (HARD_RESET_*_V1, key-method 1) is not supported", op)
	}
	if !op.Valid() {
		return 0, 0, fmt.Errorf("wire: unknown opcode %d in byte 0 (0x%02x)", op, b)
	}
	return op, b & KeyIDMask, nil
}

// PeekHeader reads the opcode and key id of a raw packet.
func PeekHeader(pkt []byte) (Opcode, uint8, error) {
	if len(pkt) == 0 {
		return 0, 0, fmt.Errorf("wire: empty packet")
	}
	return ParseHeader(pkt[0])
}

// NextKeyID returns the key id that follows k in a renegotiation: 0..7,
// wrapping from 7 to 1 (0 is only used by the first negotiation).
func NextKeyID(k uint8) uint8 {
	k = (k + 1) & KeyIDMask
	if k == 0 {
		k = 1
	}
	return k
}

// SessionID identifies one side of an OpenVPN session (8 random bytes).
type SessionID [8]byte

// SessionIDLen is the encoded size of a SessionID.
const SessionIDLen = 8

// NewSessionID draws a random, non-zero session id from r (crypto/rand
// when r is nil).
func NewSessionID(r io.Reader) (SessionID, error) {
	if r == nil {
		r = rand.Reader
	}
	var s SessionID
	for i := 0; i < 8; i++ {
		if _, err := io.ReadFull(r, s[:]); err != nil {
			return SessionID{}, fmt.Errorf("wire: reading random session id: %w", err)
		}
		if !s.IsZero() {
			return s, nil
		}
	}
	return SessionID{}, fmt.Errorf("wire: random source keeps returning a zero session id")
}

// IsZero reports whether the session id is all zero (undefined).
func (s SessionID) IsZero() bool { return s == SessionID{} }

// String returns the id in hex.
func (s SessionID) String() string { return hex.EncodeToString(s[:]) }
