package datachannel

import "bytes"

// PingMagic is the payload of an OpenVPN keepalive ping data packet.
var PingMagic = [16]byte{0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48}

// OCCMagic starts an OCC (options consistency check) data packet; the byte
// after it is the OCC opcode.
var OCCMagic = [16]byte{0x28, 0x7f, 0x34, 0x6b, 0xd4, 0xef, 0x7a, 0x81, 0x2d, 0x56, 0xb8, 0xd3, 0xaf, 0xc5, 0x45, 0x9c}

// OCCExit is the OCC opcode of an explicit-exit-notify message.
const OCCExit byte = 0x06

// IsPing reports whether a decrypted (and unframed) payload is a keepalive ping.
func IsPing(payload []byte) bool {
	return len(payload) == len(PingMagic) && bytes.Equal(payload, PingMagic[:])
}

// OCCOpcode returns the OCC opcode of an OCC payload and whether payload
// is an OCC message at all.
func OCCOpcode(payload []byte) (byte, bool) {
	if len(payload) < len(OCCMagic)+1 || !bytes.Equal(payload[:len(OCCMagic)], OCCMagic[:]) {
		return 0, false
	}
	return payload[len(OCCMagic)], true
}

// IsOCCExit reports whether payload is an OCC explicit-exit-notify message.
func IsOCCExit(payload []byte) bool {
	op, ok := OCCOpcode(payload)
	return ok && op == OCCExit
}

// AppendPing appends the keepalive ping payload to dst.
func AppendPing(dst []byte) []byte { return append(dst, PingMagic[:]...) }

// AppendOCCExit appends the OCC exit payload (magic + 0x06) to dst.
func AppendOCCExit(dst []byte) []byte { return append(append(dst, OCCMagic[:]...), OCCExit) }
