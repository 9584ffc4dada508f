package datachannel

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// MaxLiveKeys is how many key_ids a Keys set keeps at once: the current
// key, the previous one during the renegotiation transition window, and one
// being negotiated.
const MaxLiveKeys = 3

// Keys holds the live data channel keys of a session, selected by the
// key_id in byte 0 of each packet. Seal uses the primary key. All methods
// are safe for concurrent use; Seal and Open take no lock of the set.
type Keys struct {
	slots   [8]atomic.Pointer[Key]
	primary atomic.Pointer[Key]

	mu    sync.Mutex
	order []uint8 // install order, oldest first
}

// Install adds k (replacing any key with the same key_id) and returns the
// key evicted to respect MaxLiveKeys, or nil. If primary is true k becomes
// the sending key at once.
func (ks *Keys) Install(k *Key, primary bool) (evicted *Key) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	id := k.KeyID()
	ks.removeLocked(id)
	if len(ks.order) >= MaxLiveKeys {
		old := ks.order[0]
		evicted = ks.slots[old].Load()
		ks.removeLocked(old)
	}
	ks.slots[id].Store(k)
	ks.order = append(ks.order, id)
	if primary {
		ks.primary.Store(k)
	}
	return evicted
}

func (ks *Keys) removeLocked(id uint8) {
	for i, v := range ks.order {
		if v == id {
			ks.order = append(ks.order[:i], ks.order[i+1:]...)
			break
		}
	}
	if old := ks.slots[id].Swap(nil); old != nil {
		ks.primary.CompareAndSwap(old, nil)
	}
}

// SetPrimary makes the installed key with keyID the sending key.
func (ks *Keys) SetPrimary(keyID uint8) error {
	if keyID > 7 {
		return fmt.Errorf("datachannel: key_id %d out of range 0..7", keyID)
	}
	k := ks.slots[keyID].Load()
	if k == nil {
		return fmt.Errorf("datachannel: cannot make key_id %d primary: not installed", keyID)
	}
	ks.primary.Store(k)
	return nil
}

// Remove drops the key with keyID (for example when the transition window
// of a renegotiation ends).
func (ks *Keys) Remove(keyID uint8) {
	if keyID > 7 {
		return
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.removeLocked(keyID)
}

// Get returns the key for keyID or nil.
func (ks *Keys) Get(keyID uint8) *Key { return ks.slots[keyID&7].Load() }

// Primary returns the sending key or nil.
func (ks *Keys) Primary() *Key { return ks.primary.Load() }

// Seal encrypts plaintext with the primary key (see Key.Seal).
func (ks *Keys) Seal(dst, plaintext []byte) ([]byte, error) {
	k := ks.primary.Load()
	if k == nil {
		return dst, ErrNoPrimaryKey
	}
	return k.Seal(dst, plaintext)
}

// Open decrypts packet with the key named by its key_id (see Key.Open) and
// returns that key_id too.
func (ks *Keys) Open(dst, packet []byte) ([]byte, uint8, error) {
	if len(packet) == 0 {
		return dst, 0, ErrShortPacket
	}
	id := packet[0] & 7
	k := ks.slots[id].Load()
	if k == nil {
		return dst, id, ErrUnknownKeyID
	}
	out, err := k.Open(dst, packet)
	return out, id, err
}

// IsDataPacket reports whether byte 0 of a packet has a data opcode.
func IsDataPacket(packet []byte) bool {
	if len(packet) == 0 {
		return false
	}
	op := packet[0] >> 3
	return op == OpDataV1 || op == OpDataV2
}

// PeerIDOf returns the 24-bit peer id of a P_DATA_V2 packet.
func PeerIDOf(packet []byte) (uint32, bool) {
	if len(packet) < 4 || packet[0]>>3 != OpDataV2 {
		return 0, false
	}
	return uint32(packet[1])<<16 | uint32(packet[2])<<8 | uint32(packet[3]), true
}
