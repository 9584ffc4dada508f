package labpki

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// StaticKeySize is the size of an OpenVPN static key (2048 bits).
const StaticKeySize = 256

const (
	staticKeyBegin = "-----BEGIN OpenVPN Static key V1-----"
	staticKeyEnd   = "-----END OpenVPN Static key V1-----"
)

// StaticKey is an OpenVPN static key as used by tls-auth and tls-crypt.
type StaticKey [StaticKeySize]byte

// NewStaticKey reads a fresh key from r (crypto/rand.Reader when nil).
func NewStaticKey(r io.Reader) (StaticKey, error) {
	var k StaticKey
	if r == nil {
		r = Options{}.rand()
	}
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return k, fmt.Errorf("labpki: static key: %w", err)
	}
	return k, nil
}

// PEM renders the key in the layout `openvpn --genkey secret` writes: three
// comment lines, the BEGIN line, 16 lines of 32 lowercase hex digits, the
// END line.
func (k StaticKey) PEM() []byte {
	var b bytes.Buffer
	b.WriteString("#\n# 2048 bit OpenVPN static key\n#\n")
	b.WriteString(staticKeyBegin + "\n")
	for i := 0; i < StaticKeySize; i += 16 {
		b.WriteString(hex.EncodeToString(k[i : i+16]))
		b.WriteByte('\n')
	}
	b.WriteString(staticKeyEnd + "\n")
	return b.Bytes()
}

// ParseStaticKey parses an OpenVPN static key file. Lines outside the
// BEGIN/END markers are ignored (comments); inside, only hex digits and
// whitespace are allowed and exactly 256 bytes must be present.
func ParseStaticKey(data []byte) (StaticKey, error) {
	var k StaticKey
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	state := 0 // 0 before BEGIN, 1 inside, 2 after END
	var hexDigits strings.Builder
	for i, line := range lines {
		line = strings.TrimSpace(line)
		switch {
		case state == 0 && line == staticKeyBegin:
			state = 1
		case state == 1 && line == staticKeyEnd:
			state = 2
		case state == 1:
			for _, c := range line {
				if !isHex(c) {
					return k, fmt.Errorf("labpki: static key line %d: unexpected character %q", i+1, c)
				}
			}
			hexDigits.WriteString(line)
		}
	}
	switch state {
	case 0:
		return k, fmt.Errorf("labpki: static key: missing %q line", staticKeyBegin)
	case 1:
		return k, fmt.Errorf("labpki: static key: missing %q line", staticKeyEnd)
	}
	raw, err := hex.DecodeString(hexDigits.String())
	if err != nil {
		return k, fmt.Errorf("labpki: static key: %w", err)
	}
	if len(raw) != StaticKeySize {
		return k, fmt.Errorf("labpki: static key has %d bytes, want %d", len(raw), StaticKeySize)
	}
	copy(k[:], raw)
	return k, nil
}

func isHex(c rune) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
