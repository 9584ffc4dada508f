package keys

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"hash"
)

// PRF fills out with the TLS 1.0 pseudo-random function (RFC 2246 section 5):
// P_MD5 over the first half of secret XOR P_SHA1 over the second half, both
// keyed with label||seed. When secret has an odd length the middle byte is
// shared by both halves, as the RFC requires.
func PRF(out, secret, label []byte, seeds ...[]byte) {
	half := (len(secret) + 1) / 2
	s1 := secret[:half]
	s2 := secret[len(secret)-half:]
	for i := range out {
		out[i] = 0
	}
	pHash(out, md5.New, s1, label, seeds)
	pHash(out, sha1.New, s2, label, seeds)
}

// pHash XORs P_hash(secret, label||seeds) into out.
func pHash(out []byte, h func() hash.Hash, secret, label []byte, seeds [][]byte) {
	mac := hmac.New(h, secret)
	writeSeed := func() {
		mac.Write(label)
		for _, s := range seeds {
			mac.Write(s)
		}
	}
	// A(1) = HMAC(secret, seed)
	writeSeed()
	a := mac.Sum(nil)
	var block []byte
	for off := 0; off < len(out); {
		mac.Reset()
		mac.Write(a)
		writeSeed()
		block = mac.Sum(block[:0])
		n := min(len(block), len(out)-off)
		for i := 0; i < n; i++ {
			out[off+i] ^= block[i]
		}
		off += n
		// A(i+1) = HMAC(secret, A(i))
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	Zeroize(a)
	Zeroize(block)
}
