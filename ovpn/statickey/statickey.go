package statickey

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Size is the size of an OpenVPN static key (2048 bits).
const Size = 256

// The marker lines around the hex digits of a static key.
const (
	BeginLine = "-----BEGIN OpenVPN Static key V1-----"
	EndLine   = "-----END OpenVPN Static key V1-----"
)

// Key is an OpenVPN static key as used by tls-auth and tls-crypt.
type Key [Size]byte

// New reads a fresh key from r (crypto/rand.Reader when nil).
func New(r io.Reader) (Key, error) {
	var k Key
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return k, fmt.Errorf("static key: %w", err)
	}
	return k, nil
}

// PEM renders the key in the layout `openvpn --genkey secret` writes: three
// comment lines, the BEGIN line, 16 lines of 32 lowercase hex digits, the
// END line.
func (k Key) PEM() []byte {
	var b bytes.Buffer
	b.WriteString("#\n# 2048 bit OpenVPN static key\n#\n")
	b.WriteString(BeginLine + "\n")
	for i := 0; i < Size; i += 16 {
		b.WriteString(hex.EncodeToString(k[i : i+16]))
		b.WriteByte('\n')
	}
	b.WriteString(EndLine + "\n")
	return b.Bytes()
}

// Parse reads the static key text format: hex digits and white space
// between the BEGIN and END lines; text before the BEGIN line (comments)
// and after the END line is ignored. Exactly 256 bytes must be present.
func Parse(text []byte) (Key, error) {
	var k Key
	s := string(text)
	start := strings.Index(s, BeginLine)
	if start < 0 {
		return k, fmt.Errorf("no %q line found (generate a key with: openvpn --genkey secret FILE)", BeginLine)
	}
	line := 1 + strings.Count(s[:start], "\n")
	rest := s[start+len(BeginLine):]
	end := strings.Index(rest, EndLine)
	if end < 0 {
		return k, fmt.Errorf("no %q line after the begin line", EndLine)
	}
	var digits strings.Builder
	for _, c := range rest[:end] {
		switch {
		case c == '\n':
			line++
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			digits.WriteRune(c)
		default:
			return k, fmt.Errorf("static key line %d: %q is not a hex digit", line, c)
		}
	}
	if digits.Len()%2 != 0 {
		return k, fmt.Errorf("static key has an odd number of hex digits (%d)", digits.Len())
	}
	raw, err := hex.DecodeString(digits.String())
	if err != nil {
		return k, fmt.Errorf("static key is not valid hex")
	}
	if len(raw) != Size {
		return k, fmt.Errorf("static key has %d bytes, want %d (2048 bits)", len(raw), Size)
	}
	copy(k[:], raw)
	return k, nil
}
