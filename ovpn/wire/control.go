package wire

import (
	"encoding/binary"
	"fmt"
)

// MaxAcks is the most ACKs one control packet may carry on the wire.
const MaxAcks = 8

// MaxAcksControl is the number of ACKs OpenVPN piggybacks on a packet that
// also carries a packet id (CONTROL_V1, resets). ACK_V1 carries up to MaxAcks.
const MaxAcksControl = 4

// Control is a decoded control packet in its plain form (after any tls-auth
// or tls-crypt wrapper has been removed):
//
//	op|key_id (1) | session_id (8) | n_acks (1) | ack ids (4*n) |
//	remote_session_id (8, only if n > 0) | packet_id (4, absent in ACK_V1) | payload
type Control struct {
	Opcode          Opcode
	KeyID           uint8
	SessionID       SessionID
	Acks            []uint32
	RemoteSessionID SessionID // meaningful only when len(Acks) > 0
	PacketID        uint32    // absent (0) for ACK_V1
	Payload         []byte    // aliases the decoded buffer
}

// Len returns the encoded size of p.
func (p *Control) Len() int {
	n := 1 + SessionIDLen + 1 + 4*len(p.Acks)
	if len(p.Acks) > 0 {
		n += SessionIDLen
	}
	if p.Opcode != OpAckV1 {
		n += 4 + len(p.Payload)
	}
	return n
}

// Validate checks that p can be encoded.
func (p *Control) Validate() error {
	if !p.Opcode.IsControl() {
		return fmt.Errorf("wire: %v is not a control opcode", p.Opcode)
	}
	if p.KeyID > KeyIDMask {
		return fmt.Errorf("wire: key id %d out of range 0..7", p.KeyID)
	}
	if len(p.Acks) > MaxAcks {
		return fmt.Errorf("wire: %d acks, at most %d fit in a packet", len(p.Acks), MaxAcks)
	}
	if p.Opcode == OpAckV1 && len(p.Payload) > 0 {
		return fmt.Errorf("wire: P_ACK_V1 cannot carry a payload (%d bytes given)", len(p.Payload))
	}
	return nil
}

// AppendControl appends the encoding of p to dst. It fails only when p is
// invalid (see Validate); dst is returned unchanged then.
func AppendControl(dst []byte, p *Control) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return dst, err
	}
	dst = append(dst, Header(p.Opcode, p.KeyID))
	dst = append(dst, p.SessionID[:]...)
	dst = append(dst, byte(len(p.Acks)))
	for _, a := range p.Acks {
		dst = binary.BigEndian.AppendUint32(dst, a)
	}
	if len(p.Acks) > 0 {
		dst = append(dst, p.RemoteSessionID[:]...)
	}
	if p.Opcode != OpAckV1 {
		dst = binary.BigEndian.AppendUint32(dst, p.PacketID)
		dst = append(dst, p.Payload...)
	}
	return dst, nil
}

// DecodeControl decodes a plain control packet. The returned Payload aliases b.
func DecodeControl(b []byte) (*Control, error) {
	p := new(Control)
	if err := p.Decode(b); err != nil {
		return nil, err
	}
	return p, nil
}

// Decode decodes a plain control packet into p, reusing p.Acks' storage.
// Payload aliases b. Data opcodes, obsolete and unknown opcodes are
// rejected, as are more than MaxAcks acks and trailing bytes after ACK_V1.
func (p *Control) Decode(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("wire: empty control packet")
	}
	op, key, err := ParseHeader(b[0])
	if err != nil {
		return err
	}
	if op.IsData() {
		return fmt.Errorf("wire: %v is a data packet, not a control packet", op)
	}
	if len(b) < 1+SessionIDLen+1 {
		return fmt.Errorf("wire: %v packet of %d bytes is too short for session id and ack count", op, len(b))
	}
	p.Opcode, p.KeyID = op, key
	copy(p.SessionID[:], b[1:9])
	n := int(b[9])
	if n > MaxAcks {
		return fmt.Errorf("wire: %v packet claims %d acks, at most %d allowed", op, n, MaxAcks)
	}
	off := 10
	need := off + 4*n
	if n > 0 {
		need += SessionIDLen
	}
	if len(b) < need {
		return fmt.Errorf("wire: %v packet of %d bytes is too short for %d acks and remote session id (need %d)", op, len(b), n, need)
	}
	p.Acks = p.Acks[:0]
	for i := 0; i < n; i++ {
		p.Acks = append(p.Acks, binary.BigEndian.Uint32(b[off:]))
		off += 4
	}
	p.RemoteSessionID = SessionID{}
	if n > 0 {
		copy(p.RemoteSessionID[:], b[off:off+SessionIDLen])
		off += SessionIDLen
	}
	p.PacketID = 0
	p.Payload = nil
	if op == OpAckV1 {
		if n == 0 {
			return fmt.Errorf("wire: P_ACK_V1 packet carries no acks")
		}
		if off != len(b) {
			return fmt.Errorf("wire: P_ACK_V1 packet has %d trailing bytes", len(b)-off)
		}
		return nil
	}
	if len(b) < off+4 {
		return fmt.Errorf("wire: %v packet of %d bytes is too short for its packet id", op, len(b))
	}
	p.PacketID = binary.BigEndian.Uint32(b[off:])
	p.Payload = b[off+4:]
	return nil
}
