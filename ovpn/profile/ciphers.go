package profile

import "strings"

// supportedCiphers lists the data channel ciphers cvpn implements, in
// canonical spelling.
func supportedCiphers() []string {
	return []string{"AES-128-GCM", "AES-192-GCM", "AES-256-GCM", "CHACHA20-POLY1305", "AES-128-CBC", "AES-192-CBC", "AES-256-CBC"}
}

// canonicalCipher returns the canonical spelling of a cipher name. BF-CBC
// and "none" are recognised (the caller decides what to do with them).
func canonicalCipher(s string) (string, bool) {
	u := strings.ToUpper(s)
	switch u {
	case "NONE":
		return "none", true
	case "BF-CBC":
		return "BF-CBC", true
	}
	for _, c := range supportedCiphers() {
		if u == c {
			return c, true
		}
	}
	return "", false
}

// canonicalDigest returns the canonical spelling of an "auth" digest.
func canonicalDigest(s string) (string, bool) {
	u := strings.ToUpper(strings.ReplaceAll(s, "-", ""))
	switch u {
	case "SHA1", "SHA224", "SHA256", "SHA384", "SHA512":
		return u, true
	case "NONE":
		return "none", true
	}
	return "", false
}
