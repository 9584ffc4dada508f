package datachannel

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cvpn/cvpn/ovpn/keys"
)

// Epoch data format limits (OpenVPN 2.7; docs/openvpn-27-wire.md).
const (
	epochPIDSize = 8
	// epochCounterMax is the last 48-bit per-epoch packet counter.
	epochCounterMax = 1<<48 - 1
	// EpochFutureKeys is how many receive epochs past the current one are
	// accepted (OpenVPN's software data channel uses 4).
	EpochFutureKeys = 4
	// EpochRenegotiate is the send epoch from which NeedsRenegotiation
	// says yes, well before the 16-bit epoch runs out.
	EpochRenegotiate = 0xF000
	// aesGCMUsageLimit is q + s <= 2^36 - 1 (protected messages plus
	// plaintext 16-byte blocks) for AES-GCM; ChaCha20-Poly1305 has none.
	aesGCMUsageLimit = 1<<36 - 1
)

// Epoch errors.
var (
	ErrUnknownEpoch   = errors.New("datachannel: data packet with an unknown epoch")
	ErrEpochExhausted = errors.New("datachannel: epoch keys exhausted; renegotiate keys")
)

// EpochState encrypts and decrypts data packets of one key_id in the epoch
// data format: P_DATA header, 64-bit packet id (16-bit epoch, 48-bit
// counter), ciphertext, 16-byte tag at the end. The nonce is the 8 packet
// id bytes and 4 zero bytes XORed with the epoch's implicit IV; the
// associated data is the header (P_DATA_V2) and the packet id. The send key
// moves to the next epoch before an AEAD usage limit, when the counter runs
// out, when our receive key of the same epoch reaches its limit, and when
// the peer is seen sending in a newer epoch.
type EpochState struct {
	cipher Cipher
	keyID  uint8
	v2     bool
	peerID uint32
	limit  uint64

	minSend   atomic.Uint32 // the peer sends in this epoch: follow it
	recvLimit atomic.Uint32 // epoch whose receive key reached the limit

	sendMu    sync.Mutex
	send      epochDir
	sendE     keys.EpochKey
	sendNonce [keys.EpochIVLen]byte

	recvMu   sync.Mutex
	cur      *epochDir
	retiring *epochDir
	future   []*epochDir
	recvE    keys.EpochKey // highest generated receive epoch key
	rNonce   [keys.EpochIVLen]byte
}

// epochDir is one epoch's AEAD state in one direction.
type epochDir struct {
	epoch  uint16
	aead   cipher.AEAD
	iv     [keys.EpochIVLen]byte
	ctr    uint64 // send: last counter used; receive: highest seen
	blocks uint64 // plaintext blocks processed
	seen   uint64 // receive replay bitmap below ctr
}

// NewEpochState builds the epoch state from a key method 2 key block (the
// first 32 bytes of each direction's cipher key are E1). cfg.Cipher must be
// an AEAD cipher.
func NewEpochState(kb *keys.KeyBlock, cfg Config) (*EpochState, error) {
	if !cfg.Cipher.IsAEAD() {
		return nil, fmt.Errorf("datachannel: epoch data keys need an AEAD cipher, not %s", cfg.Cipher)
	}
	if cfg.KeyID > 7 || (cfg.DataV2 && cfg.PeerID > MaxPeerID) {
		return nil, fmt.Errorf("datachannel: key_id %d / peer-id %d out of range", cfg.KeyID, cfg.PeerID)
	}
	s := &EpochState{cipher: cfg.Cipher, keyID: cfg.KeyID, v2: cfg.DataV2, peerID: cfg.PeerID}
	if cfg.Cipher != CipherChaCha20Poly1305 {
		s.limit = aesGCMUsageLimit
	}
	s.sendE, s.recvE = keys.FirstEpochKeys(kb.SendCipher(cfg.Role), kb.RecvCipher(cfg.Role))
	snd, err := newEpochDir(s.sendE, cfg.Cipher)
	if err != nil {
		return nil, err
	}
	s.send = *snd
	if s.cur, err = newEpochDir(s.recvE, cfg.Cipher); err != nil {
		return nil, err
	}
	if err = s.moreFutureLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

func newEpochDir(ek keys.EpochKey, c Cipher) (*epochDir, error) {
	k, iv, err := ek.DataKey(c.KeySize())
	if err != nil {
		return nil, err
	}
	defer keys.Zeroize(k)
	a, err := newAEAD(c, k)
	if err != nil {
		return nil, err
	}
	return &epochDir{epoch: ek.Epoch, aead: a, iv: iv}, nil
}

// moreFutureLocked derives receive keys up to EpochFutureKeys epochs past
// the current one.
func (s *EpochState) moreFutureLocked() error {
	for s.recvE.Epoch < s.cur.epoch+EpochFutureKeys && s.recvE.Epoch < 0xFFFF {
		next, err := s.recvE.Next()
		if err != nil {
			return err
		}
		d, err := newEpochDir(next, s.cipher)
		if err != nil {
			return err
		}
		s.recvE.Zero()
		s.recvE = next
		s.future = append(s.future, d)
	}
	return nil
}

// KeyID returns the key id carried in byte 0.
func (s *EpochState) KeyID() uint8 { return s.keyID }

// Cipher returns the AEAD cipher.
func (s *EpochState) Cipher() Cipher { return s.cipher }

// SendEpoch returns the epoch packets are sent in.
func (s *EpochState) SendEpoch() uint16 {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.send.epoch
}

// RecvEpoch returns the current receive epoch.
func (s *EpochState) RecvEpoch() uint16 {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	return s.cur.epoch
}

func (s *EpochState) sentPackets() uint64 {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.send.ctr
}

// NeedsRenegotiation reports that the epochs are close to running out and
// a new key (a TLS renegotiation) is due.
func (s *EpochState) NeedsRenegotiation() bool { return s.SendEpoch() >= EpochRenegotiate }

func (s *EpochState) headerLen() int {
	if s.v2 {
		return 4
	}
	return 1
}

// Overhead returns how many bytes Seal adds to a payload of n bytes.
func (s *EpochState) Overhead(int) int { return s.headerLen() + epochPIDSize + tagSize }

// usageReached is OpenVPN's q + s > limit check.
func (s *EpochState) usageReached(d *epochDir) bool {
	return s.limit > 0 && d.blocks+d.ctr > s.limit
}

// advanceSendLocked moves the send key to the next epoch.
func (s *EpochState) advanceSendLocked() error {
	next, err := s.sendE.Next()
	if err != nil {
		return ErrEpochExhausted
	}
	d, err := newEpochDir(next, s.cipher)
	if err != nil {
		return err
	}
	s.sendE.Zero()
	s.sendE, s.send = next, *d
	return nil
}

// Seal appends one encrypted data packet carrying plaintext to dst.
func (s *EpochState) Seal(dst, plaintext []byte) ([]byte, error) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for uint32(s.send.epoch) < s.minSend.Load() {
		if err := s.advanceSendLocked(); err != nil {
			return dst, err
		}
	}
	if s.usageReached(&s.send) || s.send.ctr >= epochCounterMax || s.recvLimit.Load() == uint32(s.send.epoch) {
		if err := s.advanceSendLocked(); err != nil {
			return dst, err
		}
	}
	s.send.ctr++
	h := s.headerLen()
	start := len(dst)
	dst = grow(dst, h+epochPIDSize, len(plaintext)+tagSize)
	out := dst[start:]
	if s.v2 {
		binary.BigEndian.PutUint32(out, uint32(OpDataV2<<3|s.keyID)<<24|s.peerID)
	} else {
		out[0] = OpDataV1<<3 | s.keyID
	}
	binary.BigEndian.PutUint64(out[h:], uint64(s.send.epoch)<<48|s.send.ctr)
	nonce := &s.sendNonce
	*nonce = s.send.iv
	for i, b := range out[h : h+epochPIDSize] {
		nonce[i] ^= b
	}
	ad := out[h : h+epochPIDSize]
	if s.v2 {
		ad = out[:h+epochPIDSize]
	}
	s.send.blocks += uint64(epochPIDSize+len(plaintext)+15) / 16
	return s.send.aead.Seal(dst, nonce[:], plaintext, ad), nil
}

// Open authenticates and decrypts one data packet and appends the
// plaintext to dst. A valid packet in a newer epoch makes that epoch the
// current receive epoch (the previous one is kept for late packets) and
// the send key follows it.
func (s *EpochState) Open(dst, packet []byte) ([]byte, error) {
	if len(packet) < 1 {
		return dst, ErrShortPacket
	}
	if packet[0]&7 != s.keyID {
		return dst, ErrWrongKeyID
	}
	h := 1
	switch packet[0] >> 3 {
	case OpDataV1:
	case OpDataV2:
		h = 4
	default:
		return dst, ErrNotData
	}
	if len(packet) < h+epochPIDSize+tagSize {
		return dst, ErrShortPacket
	}
	pid := binary.BigEndian.Uint64(packet[h:])
	epoch, ctr := uint16(pid>>48), pid&epochCounterMax
	if epoch == 0 || ctr == 0 {
		return dst, ErrReplayZero
	}
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	d, fi := s.lookupLocked(epoch)
	if d == nil {
		return dst, ErrUnknownEpoch
	}
	if err := d.check(ctr); err != nil {
		return dst, err
	}
	nonce := &s.rNonce
	*nonce = d.iv
	for i, b := range packet[h : h+epochPIDSize] {
		nonce[i] ^= b
	}
	ad := packet[h : h+epochPIDSize]
	if packet[0]>>3 == OpDataV2 {
		ad = packet[:h+epochPIDSize]
	}
	start := len(dst)
	out, err := d.aead.Open(dst, nonce[:], packet[h+epochPIDSize:], ad)
	if err != nil {
		return dst[:start], ErrAuthFailed
	}
	d.commit(ctr)
	d.blocks += uint64(epochPIDSize+len(out)-start+15) / 16
	if fi >= 0 {
		s.retiring, s.cur = s.cur, d
		s.future = append(s.future[:0], s.future[fi+1:]...)
		if err := s.moreFutureLocked(); err != nil {
			return out, err
		}
		if uint32(epoch) > s.minSend.Load() {
			s.minSend.Store(uint32(epoch))
		}
	}
	if d == s.cur && s.usageReached(d) {
		s.recvLimit.Store(uint32(d.epoch))
	}
	return out, nil
}

// lookupLocked finds the receive state of epoch; fi is its index among the
// future keys, or -1.
func (s *EpochState) lookupLocked(epoch uint16) (*epochDir, int) {
	switch {
	case epoch == s.cur.epoch:
		return s.cur, -1
	case s.retiring != nil && epoch == s.retiring.epoch:
		return s.retiring, -1
	}
	for i, d := range s.future {
		if d.epoch == epoch {
			return d, i
		}
	}
	return nil, -1
}

// check is the 64-packet replay window over the 48-bit counter.
func (d *epochDir) check(ctr uint64) error {
	switch {
	case ctr > d.ctr:
		return nil
	case d.ctr-ctr >= ReplayWindowSize:
		return ErrReplayTooOld
	case ctr == d.ctr || d.seen&(1<<(d.ctr-ctr-1)) != 0:
		return ErrReplayDuplicate
	}
	return nil
}

func (d *epochDir) commit(ctr uint64) {
	if ctr > d.ctr {
		shift := ctr - d.ctr
		if shift >= ReplayWindowSize {
			d.seen = 0
		} else {
			d.seen = d.seen<<shift | 1<<(shift-1)
		}
		d.ctr = ctr
		return
	}
	d.seen |= 1 << (d.ctr - ctr - 1)
}
