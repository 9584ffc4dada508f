package datachannel

import (
	"fmt"
	"strings"
)

// Cipher is a data channel cipher.
type Cipher int

// Supported data channel ciphers.
const (
	CipherNone Cipher = iota
	CipherAES128GCM
	CipherAES256GCM
	CipherChaCha20Poly1305
	CipherAES128CBC
	CipherAES256CBC
)

var cipherNames = map[Cipher]string{
	CipherAES128GCM:        "AES-128-GCM",
	CipherAES256GCM:        "AES-256-GCM",
	CipherChaCha20Poly1305: "CHACHA20-POLY1305",
	CipherAES128CBC:        "AES-128-CBC",
	CipherAES256CBC:        "AES-256-CBC",
}

// String returns the OpenVPN name of the cipher.
func (c Cipher) String() string {
	if n, ok := cipherNames[c]; ok {
		return n
	}
	return fmt.Sprintf("Cipher(%d)", int(c))
}

// ParseCipher maps an OpenVPN cipher name (case-insensitive) to a Cipher.
func ParseCipher(name string) (Cipher, error) {
	for c, n := range cipherNames {
		if strings.EqualFold(n, name) {
			return c, nil
		}
	}
	return CipherNone, fmt.Errorf("datachannel: unsupported cipher %q (want AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305, AES-128-CBC or AES-256-CBC)", name)
}

// IsAEAD reports whether the cipher is an AEAD (no separate HMAC).
func (c Cipher) IsAEAD() bool {
	return c == CipherAES128GCM || c == CipherAES256GCM || c == CipherChaCha20Poly1305
}

// KeySize is the cipher key length in bytes.
func (c Cipher) KeySize() int {
	switch c {
	case CipherAES128GCM, CipherAES128CBC:
		return 16
	case CipherAES256GCM, CipherAES256CBC, CipherChaCha20Poly1305:
		return 32
	}
	return 0
}

// BlockSize is the cipher block size in bytes (1 for stream-like AEADs);
// used by the OCC link-mtu estimate.
func (c Cipher) BlockSize() int {
	switch c {
	case CipherChaCha20Poly1305:
		return 1
	case CipherNone:
		return 0
	}
	return 16
}

// Auth is the HMAC digest used with CBC ciphers.
type Auth int

// Supported HMAC digests.
const (
	AuthNone Auth = iota
	AuthSHA1
	AuthSHA256
	AuthSHA512
)

var authNames = map[Auth]string{AuthSHA1: "SHA1", AuthSHA256: "SHA256", AuthSHA512: "SHA512"}

// String returns the OpenVPN name of the digest ("[null-digest]" for none).
func (a Auth) String() string {
	if a == AuthNone {
		return "[null-digest]"
	}
	if n, ok := authNames[a]; ok {
		return n
	}
	return fmt.Sprintf("Auth(%d)", int(a))
}

// ParseAuth maps an OpenVPN digest name (case-insensitive, with or without
// a dash as in "SHA-256") to an Auth.
func ParseAuth(name string) (Auth, error) {
	n := strings.ToUpper(strings.ReplaceAll(name, "-", ""))
	switch n {
	case "SHA1":
		return AuthSHA1, nil
	case "SHA256":
		return AuthSHA256, nil
	case "SHA512":
		return AuthSHA512, nil
	case "NONE", "[NULLDIGEST]":
		return AuthNone, nil
	}
	return AuthNone, fmt.Errorf("datachannel: unsupported auth digest %q (want SHA1, SHA256 or SHA512)", name)
}

// Size is the digest length in bytes.
func (a Auth) Size() int {
	switch a {
	case AuthSHA1:
		return 20
	case AuthSHA256:
		return 32
	case AuthSHA512:
		return 64
	}
	return 0
}
