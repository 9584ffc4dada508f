package datachannel

import (
	"errors"
	"fmt"
)

// Compression selects the compression framing agreed with the peer. cvpn
// never compresses; these modes only add or strip the framing bytes that
// "comp-lzo no", "compress stub" and "compress stub-v2" peers expect.
type Compression int

// Compression framings.
const (
	// CompressNone: no framing byte at all (no compression option).
	CompressNone Compression = iota
	// CompressLZONo: "comp-lzo no": every payload is prefixed with 0xFA.
	CompressLZONo
	// CompressStub: "compress stub" / "compress" (swap mode): 0xFB is put
	// first and the payload's first byte moves to the end.
	CompressStub
	// CompressStubV2: "compress stub-v2": no byte unless the payload starts
	// with 0x50, in which case "0x50 0x00" is prefixed.
	CompressStubV2
)

// Framing bytes.
const (
	noCompressByte     = 0xFA
	noCompressSwapByte = 0xFB
	compV2Escape       = 0x50
	compV2Uncompressed = 0x00
)

// ErrCompressed is returned when the peer sent actually compressed data.
var ErrCompressed = errors.New("datachannel: peer sent compressed data; cvpn supports only uncompressed framing (comp-lzo no / compress stub / stub-v2)")

// String returns the profile spelling of the mode.
func (c Compression) String() string {
	switch c {
	case CompressNone:
		return "none"
	case CompressLZONo:
		return "comp-lzo no"
	case CompressStub:
		return "compress stub"
	case CompressStubV2:
		return "compress stub-v2"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// MaxOverhead is the most bytes Frame adds to a payload.
func (c Compression) MaxOverhead() int {
	switch c {
	case CompressLZONo, CompressStub:
		return 1
	case CompressStubV2:
		return 2
	}
	return 0
}

// Frame appends payload to dst with the framing of mode c.
func (c Compression) Frame(dst, payload []byte) []byte {
	switch c {
	case CompressLZONo:
		dst = append(dst, noCompressByte)
		return append(dst, payload...)
	case CompressStub:
		if len(payload) == 0 {
			return dst
		}
		dst = append(dst, noCompressSwapByte)
		dst = append(dst, payload[1:]...)
		return append(dst, payload[0])
	case CompressStubV2:
		if len(payload) > 0 && payload[0] == compV2Escape {
			dst = append(dst, compV2Escape, compV2Uncompressed)
		}
		return append(dst, payload...)
	}
	return append(dst, payload...)
}

// Unframe removes the framing from a received payload in place and returns
// the plain payload (a sub-slice of p). Peers in the v1 modes may send
// either 0xFA or 0xFB; both are accepted.
func (c Compression) Unframe(p []byte) ([]byte, error) {
	switch c {
	case CompressLZONo, CompressStub:
		if len(p) == 0 {
			return p, nil
		}
		switch p[0] {
		case noCompressByte:
			return p[1:], nil
		case noCompressSwapByte:
			last := len(p) - 1
			if last == 0 {
				return p[:0], nil
			}
			p[0] = p[last]
			return p[:last], nil
		}
		return nil, fmt.Errorf("%w (framing byte 0x%02x)", ErrCompressed, p[0])
	case CompressStubV2:
		if len(p) == 0 || p[0] != compV2Escape {
			return p, nil
		}
		if len(p) < 2 {
			return nil, errors.New("datachannel: truncated stub-v2 compression header")
		}
		if p[1] != compV2Uncompressed {
			return nil, fmt.Errorf("%w (stub-v2 algorithm 0x%02x)", ErrCompressed, p[1])
		}
		return p[2:], nil
	}
	return p, nil
}
