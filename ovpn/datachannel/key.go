package datachannel

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/keys"
	"github.com/cvpn/cvpn/ovpn/wire"
	"golang.org/x/crypto/chacha20poly1305"
)

// Data channel opcodes (high 5 bits of byte 0).
const (
	OpDataV1 = 6
	OpDataV2 = 9
)

// Sizes on the wire.
const (
	packetIDSize  = 4
	tagSize       = 16
	implicitIVLen = 8
	cbcIVSize     = aes.BlockSize
	// MaxPeerID is the largest 24-bit peer id.
	MaxPeerID = 0xFFFFFF
	// packetIDRenegotiate is where NeedsRenegotiation starts to say yes
	// (OpenVPN renegotiates at the same point before packet_id wraps).
	packetIDRenegotiate = 0xFF000000
)

// Packet errors. They are sentinels so that a flood of bad packets costs
// no allocations; callers may count them per type.
var (
	ErrShortPacket         = errors.New("datachannel: packet too short")
	ErrNotData             = errors.New("datachannel: not a data packet (opcode is not P_DATA_V1/P_DATA_V2)")
	ErrWrongKeyID          = errors.New("datachannel: packet key_id does not match this key")
	ErrUnknownKeyID        = errors.New("datachannel: no key installed for the packet's key_id")
	ErrAuthFailed          = errors.New("datachannel: packet authentication failed")
	ErrBadPadding          = errors.New("datachannel: bad CBC padding")
	ErrPacketIDExhausted   = errors.New("datachannel: outbound packet_id space exhausted; renegotiate keys")
	ErrNoPrimaryKey        = errors.New("datachannel: no primary key to send with")
	ErrCiphertextAlignment = errors.New("datachannel: CBC ciphertext is not a multiple of the block size")
)

// Config describes one data channel key (one key_id).
type Config struct {
	Cipher Cipher
	// Auth is the HMAC digest for CBC ciphers; ignored for AEAD ciphers.
	Auth Auth
	// Role decides which half of the key block is used for sending.
	Role wire.Role
	// KeyID is the 3-bit key id (0..7) carried in byte 0.
	KeyID uint8
	// DataV2 makes Seal emit P_DATA_V2 packets carrying PeerID; otherwise
	// P_DATA_V1. Open accepts both.
	DataV2 bool
	PeerID uint32
	// Backtrack is the replay time backtrack; 0 means DefaultBacktrack,
	// negative disables it.
	Backtrack time.Duration
	// Now is the clock for the replay time backtrack; nil means time.Now.
	Now func() time.Time
	// Epoch selects the epoch data format (OpenVPN 2.7 aead-epoch, an
	// AEAD cipher only): see EpochState.
	Epoch bool
}

// Key encrypts and decrypts data packets for one key_id. Its send and
// receive halves have separate locks, so one goroutine may Seal while
// another Opens.
type Key struct {
	cipher Cipher
	auth   Auth
	keyID  uint8
	v2     bool
	peerID uint32
	now    func() time.Time
	epoch  *EpochState // non-nil: the epoch data format
	// limit is the AEAD usage limit (AES-GCM; 0 = none); sBlocks/rBlocks
	// count the 16-byte plaintext blocks sent and received and rPID is the
	// highest packet id received, for NeedsRenegotiation.
	limit   uint64
	sBlocks atomic.Uint64
	rBlocks atomic.Uint64
	rPID    atomic.Uint32

	sendMu  sync.Mutex
	sendPID atomic.Uint64 // last packet id sent
	sAEAD   cipher.AEAD
	sNonce  [12]byte
	sCBC    cbcSetIV
	sMAC    hash.Hash
	ivGen   cipher.Block // CBC IV generator (AES under a random key)
	ivCtr   uint64
	ivIn    [aes.BlockSize]byte

	recvMu sync.Mutex
	replay ReplayWindow
	rAEAD  cipher.AEAD
	rNonce [12]byte
	rCBC   cbcSetIV
	rMAC   hash.Hash
	rSum   [64]byte
}

type cbcSetIV interface {
	cipher.BlockMode
	SetIV([]byte)
}

// NewKey builds the cipher state for one key_id from a key block. The key
// block may be zeroed afterwards; Key keeps its own copies.
func NewKey(kb *keys.KeyBlock, cfg Config) (*Key, error) {
	if cfg.KeyID > 7 {
		return nil, fmt.Errorf("datachannel: key_id %d out of range 0..7", cfg.KeyID)
	}
	if cfg.DataV2 && cfg.PeerID > MaxPeerID {
		return nil, fmt.Errorf("datachannel: peer-id %d does not fit 24 bits", cfg.PeerID)
	}
	k := &Key{cipher: cfg.Cipher, auth: cfg.Auth, keyID: cfg.KeyID, v2: cfg.DataV2, peerID: cfg.PeerID, now: cfg.Now}
	if cfg.Epoch {
		var err error
		k.epoch, err = NewEpochState(kb, cfg)
		return k, err
	}
	if k.now == nil {
		k.now = time.Now
	}
	k.replay.Backtrack = cfg.Backtrack
	if cfg.Backtrack == 0 {
		k.replay.Backtrack = DefaultBacktrack
	}
	ks := cfg.Cipher.KeySize()
	if cfg.Cipher.IsAEAD() && cfg.Cipher != CipherChaCha20Poly1305 {
		k.limit = aesGCMUsageLimit
	}
	switch {
	case cfg.Cipher.IsAEAD():
		var err error
		if k.sAEAD, err = newAEAD(cfg.Cipher, kb.SendCipher(cfg.Role)[:ks]); err != nil {
			return nil, err
		}
		if k.rAEAD, err = newAEAD(cfg.Cipher, kb.RecvCipher(cfg.Role)[:ks]); err != nil {
			return nil, err
		}
		copy(k.sNonce[packetIDSize:], kb.SendHMAC(cfg.Role)[:implicitIVLen])
		copy(k.rNonce[packetIDSize:], kb.RecvHMAC(cfg.Role)[:implicitIVLen])
	case cfg.Cipher == CipherAES128CBC || cfg.Cipher == CipherAES256CBC:
		hf := hashFunc(cfg.Auth)
		if hf == nil {
			return nil, fmt.Errorf("datachannel: cipher %s needs an auth digest (SHA1, SHA256 or SHA512), got %s", cfg.Cipher, cfg.Auth)
		}
		sb, err := aes.NewCipher(kb.SendCipher(cfg.Role)[:ks])
		if err != nil {
			return nil, err
		}
		rb, err := aes.NewCipher(kb.RecvCipher(cfg.Role)[:ks])
		if err != nil {
			return nil, err
		}
		var zero [aes.BlockSize]byte
		k.sCBC = cipher.NewCBCEncrypter(sb, zero[:]).(cbcSetIV)
		k.rCBC = cipher.NewCBCDecrypter(rb, zero[:]).(cbcSetIV)
		n := cfg.Auth.Size()
		k.sMAC = hmac.New(hf, append([]byte(nil), kb.SendHMAC(cfg.Role)[:n]...))
		k.rMAC = hmac.New(hf, append([]byte(nil), kb.RecvHMAC(cfg.Role)[:n]...))
		// IVs are AES_K(counter) under a fresh random key (NIST SP 800-38A
		// appendix C): unpredictable, unique, and no syscall per packet.
		var ivKey [32]byte
		if _, err := rand.Read(ivKey[:]); err != nil {
			return nil, fmt.Errorf("datachannel: CBC IV key: %w", err)
		}
		if k.ivGen, err = aes.NewCipher(ivKey[:]); err != nil {
			return nil, err
		}
		keys.Zeroize(ivKey[:])
	default:
		return nil, fmt.Errorf("datachannel: unsupported cipher %s", cfg.Cipher)
	}
	return k, nil
}

func newAEAD(c Cipher, key []byte) (cipher.AEAD, error) {
	if c == CipherChaCha20Poly1305 {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func hashFunc(a Auth) func() hash.Hash {
	switch a {
	case AuthSHA1:
		return sha1.New
	case AuthSHA256:
		return sha256.New
	case AuthSHA512:
		return sha512.New
	}
	return nil
}

// KeyID returns the key's 3-bit key id.
func (k *Key) KeyID() uint8 { return k.keyID }

// Cipher returns the key's cipher.
func (k *Key) Cipher() Cipher { return k.cipher }

// SentPackets returns how many packet ids have been used for sending (in
// the current epoch with epoch keys).
func (k *Key) SentPackets() uint64 {
	if k.epoch != nil {
		return k.epoch.sentPackets()
	}
	return k.sendPID.Load()
}

// Epoch returns the epoch state, or nil for the 2.6 data format.
func (k *Key) Epoch() *EpochState { return k.epoch }

// NeedsRenegotiation reports that a new key should be negotiated: the
// outbound packet_id is close to wrapping, or (AES-GCM) the packets plus
// plaintext blocks sent or received reach the AEAD usage limit, as OpenVPN
// 2.7 does without epoch keys; with epoch keys, that the epochs are close
// to running out.
func (k *Key) NeedsRenegotiation() bool {
	if k.epoch != nil {
		return k.epoch.NeedsRenegotiation()
	}
	sent := k.sendPID.Load()
	if sent >= packetIDRenegotiate {
		return true
	}
	return k.limit > 0 && (k.sBlocks.Load()+sent > k.limit || k.rBlocks.Load()+uint64(k.rPID.Load()) > k.limit)
}

func (k *Key) headerLen() int {
	if k.v2 {
		return 4
	}
	return 1
}

// Overhead returns how many bytes Seal adds to a payload of n bytes.
func (k *Key) Overhead(n int) int {
	if k.epoch != nil {
		return k.epoch.Overhead(n)
	}
	h := k.headerLen()
	if k.cipher.IsAEAD() {
		return h + packetIDSize + tagSize
	}
	body := packetIDSize + n
	padded := (body/aes.BlockSize + 1) * aes.BlockSize
	return h + k.auth.Size() + cbcIVSize + padded - n
}

// grow extends dst by n bytes (plus slack extra capacity) and returns the
// extended slice.
func grow(dst []byte, n, slack int) []byte {
	l := len(dst)
	if cap(dst)-l < n+slack {
		nd := make([]byte, l, l+n+slack+l/4)
		copy(nd, dst)
		dst = nd
	}
	return dst[:l+n]
}

func (k *Key) putHeader(out []byte) {
	if k.v2 {
		binary.BigEndian.PutUint32(out, uint32(OpDataV2<<3|k.keyID)<<24|k.peerID)
		return
	}
	out[0] = OpDataV1<<3 | k.keyID
}

// setSendPID sets the outbound packet id counter (tests use it to reach the
// wrap limit).
func (k *Key) setSendPID(v uint64) { k.sendPID.Store(v) }

// Seal appends one encrypted data packet carrying plaintext to dst and
// returns the extended slice. plaintext must not overlap dst's spare
// capacity. It returns ErrPacketIDExhausted instead of wrapping packet_id.
func (k *Key) Seal(dst, plaintext []byte) ([]byte, error) {
	if k.epoch != nil {
		return k.epoch.Seal(dst, plaintext)
	}
	k.sendMu.Lock()
	defer k.sendMu.Unlock()
	next := k.sendPID.Load() + 1
	if next > 0xFFFFFFFF {
		return dst, ErrPacketIDExhausted
	}
	k.sendPID.Store(next)
	pid := uint32(next)
	start := len(dst)
	h := k.headerLen()
	total := k.Overhead(len(plaintext)) + len(plaintext)
	if k.cipher.IsAEAD() {
		dst = grow(dst, total, tagSize)
		out := dst[start:]
		k.putHeader(out)
		binary.BigEndian.PutUint32(out[h:], pid)
		binary.BigEndian.PutUint32(k.sNonce[:], pid)
		ad := out[h : h+packetIDSize]
		if k.v2 {
			ad = out[:h+packetIDSize]
		}
		ctOff := h + packetIDSize + tagSize
		sealed := k.sAEAD.Seal(out[ctOff:ctOff], k.sNonce[:], plaintext, ad)
		if k.limit > 0 {
			k.sBlocks.Add(uint64(packetIDSize+len(plaintext)+15) / 16)
		}
		copy(out[h+packetIDSize:ctOff], sealed[len(plaintext):])
		return dst, nil
	}
	dst = grow(dst, total, 0)
	out := dst[start:]
	k.putHeader(out)
	macLen := k.auth.Size()
	iv := out[h+macLen : h+macLen+cbcIVSize]
	k.ivCtr++
	binary.BigEndian.PutUint64(k.ivIn[:8], k.ivCtr)
	binary.BigEndian.PutUint32(k.ivIn[8:], pid)
	k.ivGen.Encrypt(iv, k.ivIn[:])
	ct := out[h+macLen+cbcIVSize:]
	binary.BigEndian.PutUint32(ct, pid)
	copy(ct[packetIDSize:], plaintext)
	pad := byte(len(ct) - packetIDSize - len(plaintext))
	for i := len(ct) - int(pad); i < len(ct); i++ {
		ct[i] = pad
	}
	k.sCBC.SetIV(iv)
	k.sCBC.CryptBlocks(ct, ct)
	k.sMAC.Reset()
	k.sMAC.Write(out[h+macLen:])
	k.sMAC.Sum(out[h:h])
	return dst, nil
}

// Open authenticates and decrypts one data packet (starting with the
// opcode byte) and appends the plaintext to dst. packet is not modified.
// It enforces the replay window; a failed packet leaves it unchanged.
func (k *Key) Open(dst, packet []byte) ([]byte, error) {
	if k.epoch != nil {
		return k.epoch.Open(dst, packet)
	}
	if len(packet) < 1 {
		return dst, ErrShortPacket
	}
	op := packet[0] >> 3
	if packet[0]&7 != k.keyID {
		return dst, ErrWrongKeyID
	}
	h := 1
	switch op {
	case OpDataV1:
	case OpDataV2:
		h = 4
	default:
		return dst, ErrNotData
	}
	k.recvMu.Lock()
	defer k.recvMu.Unlock()
	start := len(dst)
	if k.cipher.IsAEAD() {
		if len(packet) < h+packetIDSize+tagSize {
			return dst, ErrShortPacket
		}
		pidBytes := packet[h : h+packetIDSize]
		pid := binary.BigEndian.Uint32(pidBytes)
		now := k.now().UnixNano()
		if err := k.replay.Check(pid, now); err != nil {
			return dst, err
		}
		ad := pidBytes
		if op == OpDataV2 {
			ad = packet[:h+packetIDSize]
		}
		tag := packet[h+packetIDSize : h+packetIDSize+tagSize]
		ct := packet[h+packetIDSize+tagSize:]
		// Go's AEAD wants ciphertext||tag: assemble it in dst and open in place.
		dst = grow(dst, len(ct)+tagSize, 0)
		buf := dst[start:]
		copy(buf, ct)
		copy(buf[len(ct):], tag)
		copy(k.rNonce[:packetIDSize], pidBytes)
		if _, err := k.rAEAD.Open(buf[:0], k.rNonce[:], buf, ad); err != nil {
			clear(buf)
			return dst[:start], ErrAuthFailed
		}
		k.replay.Commit(pid, now)
		if k.limit > 0 {
			k.rBlocks.Add(uint64(packetIDSize+len(ct)+15) / 16)
			if pid > k.rPID.Load() {
				k.rPID.Store(pid)
			}
		}
		return dst[:start+len(ct)], nil
	}
	macLen := k.auth.Size()
	if len(packet) < h+macLen+cbcIVSize+aes.BlockSize {
		return dst, ErrShortPacket
	}
	body := packet[h+macLen:]
	k.rMAC.Reset()
	k.rMAC.Write(body)
	sum := k.rMAC.Sum(k.rSum[:0])
	if !hmac.Equal(sum, packet[h:h+macLen]) {
		return dst, ErrAuthFailed
	}
	ct := body[cbcIVSize:]
	if len(ct)%aes.BlockSize != 0 {
		return dst, ErrCiphertextAlignment
	}
	dst = grow(dst, len(ct), 0)
	pt := dst[start:]
	k.rCBC.SetIV(body[:cbcIVSize])
	k.rCBC.CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > aes.BlockSize || len(pt)-pad < packetIDSize {
		clear(pt)
		return dst[:start], ErrBadPadding
	}
	for _, b := range pt[len(pt)-pad:] {
		if int(b) != pad {
			clear(pt)
			return dst[:start], ErrBadPadding
		}
	}
	pid := binary.BigEndian.Uint32(pt)
	now := k.now().UnixNano()
	if err := k.replay.Check(pid, now); err != nil {
		clear(pt)
		return dst[:start], err
	}
	k.replay.Commit(pid, now)
	n := copy(pt, pt[packetIDSize:len(pt)-pad])
	return dst[:start+n], nil
}
