package tlswrap

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"time"
)

// Digest returns the hash constructor for an OpenVPN `auth` name (SHA1,
// SHA224, SHA256, SHA384, SHA512; case-insensitive, "" means SHA1).
func Digest(name string) (func() hash.Hash, error) {
	switch strings.ToUpper(strings.ReplaceAll(name, "-", "")) {
	case "", "SHA1":
		return sha1.New, nil
	case "SHA224":
		return sha256.New224, nil
	case "SHA256":
		return sha256.New, nil
	case "SHA384":
		return sha512.New384, nil
	case "SHA512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("tlswrap: unsupported tls-auth digest %q (want SHA1, SHA224, SHA256, SHA384 or SHA512)", name)
}

// TLSAuth implements --tls-auth: an HMAC over every control packet.
//
// On the wire: op | session_id[8] | HMAC | replay_id u32 | time u32 | rest,
// where the HMAC covers replay_id | time | op | session_id | rest.
type TLSAuth struct {
	now    func() time.Time
	send   hash.Hash
	recv   hash.Hash
	size   int
	sid    sendID
	window replayWindow
	sum    []byte
}

// NewTLSAuth builds a tls-auth wrapper from a 256-byte static key, a key
// direction (DirectionNone, Direction0, Direction1), the `auth` digest name
// ("" for SHA1) and a clock used for the replay time field and window.
func NewTLSAuth(key [StaticKeyLen]byte, direction int, digest string, now func() time.Time) (*TLSAuth, error) {
	h, err := Digest(digest)
	if err != nil {
		return nil, err
	}
	var sendIdx, recvIdx int
	switch direction {
	case DirectionNone:
		sendIdx, recvIdx = 0, 0
	case Direction0:
		sendIdx, recvIdx = 0, 1
	case Direction1:
		sendIdx, recvIdx = 1, 0
	default:
		return nil, fmt.Errorf("tlswrap: tls-auth key direction %d is not 0, 1 or none", direction)
	}
	if now == nil {
		now = time.Now
	}
	size := h().Size()
	// key[i] = cipher[64] | hmac[64]; the HMAC key is the first size bytes of hmac.
	hk := func(i int) []byte { return key[i*128+64 : i*128+64+size] }
	return &TLSAuth{
		now:  now,
		send: hmac.New(h, hk(sendIdx)),
		recv: hmac.New(h, hk(recvIdx)),
		size: size,
		sum:  make([]byte, 0, size),
	}, nil
}

// Overhead is the HMAC size plus 8 bytes of replay id and time.
func (a *TLSAuth) Overhead() int { return a.size + 8 }

// Mode returns "tls-auth".
func (a *TLSAuth) Mode() string { return "tls-auth" }

// SetNextSendID sets the replay id of the next wrapped packet.
func (a *TLSAuth) SetNextSendID(id uint32) {
	if a.sid.time == 0 {
		a.sid.time = uint32(a.now().Unix())
	}
	a.sid.id = id - 1
}

// Wrap appends the tls-auth form of plain to dst.
func (a *TLSAuth) Wrap(dst, plain []byte) ([]byte, error) {
	if len(plain) < hdrLen {
		return dst, fmt.Errorf("tlswrap: plain control packet of %d bytes is shorter than op and session id", len(plain))
	}
	id, t, err := a.sid.next(a.now)
	if err != nil {
		return dst, err
	}
	var pt [8]byte
	binary.BigEndian.PutUint32(pt[0:], id)
	binary.BigEndian.PutUint32(pt[4:], t)
	a.send.Reset()
	a.send.Write(pt[:])
	a.send.Write(plain)
	a.sum = a.send.Sum(a.sum[:0])
	dst = append(dst, plain[:hdrLen]...)
	dst = append(dst, a.sum...)
	dst = append(dst, pt[:]...)
	return append(dst, plain[hdrLen:]...), nil
}

// Unwrap verifies the HMAC and replay id and returns the plain packet, in place.
func (a *TLSAuth) Unwrap(pkt []byte) ([]byte, error) { return a.unwrap(pkt, true) }

// UnwrapNoReplay verifies only the HMAC.
func (a *TLSAuth) UnwrapNoReplay(pkt []byte) ([]byte, error) { return a.unwrap(pkt, false) }

func (a *TLSAuth) unwrap(pkt []byte, replay bool) ([]byte, error) {
	ov := a.size + 8
	if len(pkt) < hdrLen+ov {
		return nil, fmt.Errorf("tlswrap: tls-auth packet of %d bytes is too short (need %d)", len(pkt), hdrLen+ov)
	}
	mac := pkt[hdrLen : hdrLen+a.size]
	pt := pkt[hdrLen+a.size : hdrLen+ov]
	id := binary.BigEndian.Uint32(pt[0:])
	t := binary.BigEndian.Uint32(pt[4:])
	a.recv.Reset()
	a.recv.Write(pt)
	a.recv.Write(pkt[:hdrLen])
	a.recv.Write(pkt[hdrLen+ov:])
	a.sum = a.recv.Sum(a.sum[:0])
	if subtle.ConstantTimeCompare(a.sum, mac) != 1 {
		return nil, fmt.Errorf("tlswrap: tls-auth HMAC mismatch (wrong key, key-direction or auth digest?): %w", ErrAuth)
	}
	if replay {
		now := a.now()
		if err := a.window.check(id, t, now); err != nil {
			return nil, fmt.Errorf("tlswrap: tls-auth: %w", err)
		}
		a.window.add(id, t, now)
	}
	// Move op|session_id forward over the HMAC and replay fields.
	copy(pkt[ov:ov+hdrLen], pkt[:hdrLen])
	return pkt[ov:], nil
}
