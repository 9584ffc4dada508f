package vnettun

import (
	"encoding/binary"
	"math/bits"
)

// sum adds b to the ones'-complement sum acc (RFC 1071), 8 bytes at a time.
// The result is not folded; pass it to fold.
func sum(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	acc, c = bits.Add64(acc, 0, c)
	acc += c
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), 0)
		acc += c
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), 0)
		acc += c
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, 0)
		acc += c
	}
	return acc
}

// fold reduces a 64-bit ones'-complement sum to 16 bits.
func fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 32) + (acc & 0xffffffff)
	acc = (acc >> 16) + (acc & 0xffff)
	acc = (acc >> 16) + (acc & 0xffff)
	return uint16(acc)
}

// pseudoSum is the sum of the TCP/UDP pseudo-header: source and destination
// address (4 or 16 bytes each), protocol and the transport length.
func pseudoSum(src, dst []byte, proto uint8, length int) uint64 {
	acc := sum(src, 0)
	acc = sum(dst, acc)
	return add(acc, uint64(proto)<<16|uint64(length))
}

// add adds x to the ones'-complement sum acc with end-around carry.
func add(acc, x uint64) uint64 {
	acc, c := bits.Add64(acc, x, 0)
	return acc + c
}
