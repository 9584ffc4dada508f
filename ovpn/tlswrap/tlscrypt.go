package tlswrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// tls-crypt layout constants.
const (
	tcTagLen = 32
	tcHdrLen = hdrLen + 8 // op | session id | replay id | time
)

// TLSCrypt implements --tls-crypt (v1): AES-256-CTR encryption and an
// HMAC-SHA256 tag over every control packet.
//
// On the wire: op | session_id[8] | replay_id u32 | time u32 | tag[32] |
// AES-256-CTR(Ke, IV = tag[0:16], rest), tag = HMAC-SHA256(Ka, op |
// session_id | replay_id | time | rest).
type TLSCrypt struct {
	now      func() time.Time
	sendBlk  cipher.Block
	recvBlk  cipher.Block
	sendMAC  hash.Hash
	recvMAC  hash.Hash
	sid      sendID
	window   replayWindow
	sum      []byte
	tagCheck [tcTagLen]byte
}

// NewTLSCrypt builds a tls-crypt wrapper from a 256-byte static key. The
// server sends with key[0] and receives with key[1]; the client the reverse.
func NewTLSCrypt(key [StaticKeyLen]byte, role wire.Role, now func() time.Time) (*TLSCrypt, error) {
	sendIdx, recvIdx := 1, 0
	if role == wire.RoleServer {
		sendIdx, recvIdx = 0, 1
	}
	if now == nil {
		now = time.Now
	}
	ke := func(i int) []byte { return key[i*128 : i*128+32] }
	ka := func(i int) []byte { return key[i*128+64 : i*128+96] }
	sb, err := aes.NewCipher(ke(sendIdx))
	if err != nil {
		return nil, fmt.Errorf("tlswrap: tls-crypt send cipher: %w", err)
	}
	rb, err := aes.NewCipher(ke(recvIdx))
	if err != nil {
		return nil, fmt.Errorf("tlswrap: tls-crypt receive cipher: %w", err)
	}
	return &TLSCrypt{
		now:     now,
		sendBlk: sb,
		recvBlk: rb,
		sendMAC: hmac.New(sha256.New, ka(sendIdx)),
		recvMAC: hmac.New(sha256.New, ka(recvIdx)),
		sum:     make([]byte, 0, tcTagLen),
	}, nil
}

// Overhead is 8 bytes of replay id and time plus the 32-byte tag.
func (c *TLSCrypt) Overhead() int { return 8 + tcTagLen }

// Mode returns "tls-crypt".
func (c *TLSCrypt) Mode() string { return "tls-crypt" }

// SetNextSendID sets the replay id of the next wrapped packet.
func (c *TLSCrypt) SetNextSendID(id uint32) {
	if c.sid.time == 0 {
		c.sid.time = uint32(c.now().Unix())
	}
	c.sid.id = id - 1
}

// Wrap appends the tls-crypt form of plain to dst.
func (c *TLSCrypt) Wrap(dst, plain []byte) ([]byte, error) {
	if len(plain) < hdrLen {
		return dst, fmt.Errorf("tlswrap: plain control packet of %d bytes is shorter than op and session id", len(plain))
	}
	id, t, err := c.sid.next(c.now)
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, plain[:hdrLen]...)
	dst = binary.BigEndian.AppendUint32(dst, id)
	dst = binary.BigEndian.AppendUint32(dst, t)
	c.sendMAC.Reset()
	c.sendMAC.Write(dst[start:])
	c.sendMAC.Write(plain[hdrLen:])
	dst = c.sendMAC.Sum(dst)
	tag := dst[start+tcHdrLen : start+tcHdrLen+tcTagLen]
	ctStart := len(dst)
	dst = append(dst, plain[hdrLen:]...)
	cipher.NewCTR(c.sendBlk, tag[:16]).XORKeyStream(dst[ctStart:], dst[ctStart:])
	return dst, nil
}

// Unwrap decrypts and verifies pkt in place and checks the replay id.
func (c *TLSCrypt) Unwrap(pkt []byte) ([]byte, error) { return c.unwrap(pkt, true) }

// UnwrapNoReplay decrypts and verifies pkt in place without the replay check.
func (c *TLSCrypt) UnwrapNoReplay(pkt []byte) ([]byte, error) { return c.unwrap(pkt, false) }

func (c *TLSCrypt) unwrap(pkt []byte, replay bool) ([]byte, error) {
	if len(pkt) < tcHdrLen+tcTagLen {
		return nil, fmt.Errorf("tlswrap: tls-crypt packet of %d bytes is too short (need %d)", len(pkt), tcHdrLen+tcTagLen)
	}
	copy(c.tagCheck[:], pkt[tcHdrLen:tcHdrLen+tcTagLen])
	ct := pkt[tcHdrLen+tcTagLen:]
	cipher.NewCTR(c.recvBlk, c.tagCheck[:16]).XORKeyStream(ct, ct)
	c.recvMAC.Reset()
	c.recvMAC.Write(pkt[:tcHdrLen])
	c.recvMAC.Write(ct)
	c.sum = c.recvMAC.Sum(c.sum[:0])
	if subtle.ConstantTimeCompare(c.sum, c.tagCheck[:]) != 1 {
		return nil, fmt.Errorf("tlswrap: tls-crypt tag mismatch (wrong key or role?): %w", ErrAuth)
	}
	if replay {
		id := binary.BigEndian.Uint32(pkt[hdrLen:])
		t := binary.BigEndian.Uint32(pkt[hdrLen+4:])
		now := c.now()
		if err := c.window.check(id, t, now); err != nil {
			return nil, fmt.Errorf("tlswrap: tls-crypt: %w", err)
		}
		c.window.add(id, t, now)
	}
	ov := 8 + tcTagLen
	copy(pkt[ov:ov+hdrLen], pkt[:hdrLen])
	return pkt[ov:], nil
}
