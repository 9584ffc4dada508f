package tlswrap

import (
	"errors"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/wire"
)

// Key directions for tls-auth (the profile's key-direction / tls-auth 2nd argument).
const (
	// DirectionNone: both directions use key[0] (no key-direction given).
	DirectionNone = -1
	// Direction0: send with key[0], receive with key[1] (usually the server).
	Direction0 = 0
	// Direction1: send with key[1], receive with key[0] (usually the client).
	Direction1 = 1
)

// StaticKeyLen is the size of an OpenVPN static key (2048 bits).
const StaticKeyLen = 256

// Wrapper protects control packets.
type Wrapper interface {
	// Wrap appends the on-wire form of plain (a plain control packet,
	// starting with op|key_id and session id) to dst.
	Wrap(dst, plain []byte) ([]byte, error)
	// Unwrap authenticates pkt, checks and records its replay packet id and
	// returns the plain control packet. It works in place: pkt is modified
	// and the result aliases it.
	Unwrap(pkt []byte) ([]byte, error)
	// UnwrapNoReplay is Unwrap without the replay check and without
	// recording the packet id, for a stateless server answering resets.
	UnwrapNoReplay(pkt []byte) ([]byte, error)
	// SetNextSendID sets the replay packet id the next Wrap uses (a server
	// that answered the reset statelessly continues at 2).
	SetNextSendID(id uint32)
	// Overhead is the number of bytes Wrap adds.
	Overhead() int
	// Mode names the wrapping: "none", "tls-auth" or "tls-crypt".
	Mode() string
}

// ErrReplay is wrapped by errors for packets rejected by the replay window.
var ErrReplay = errors.New("replayed or too old packet")

// ErrAuth is wrapped by errors for packets whose HMAC or tag does not verify.
var ErrAuth = errors.New("authentication failed")

const hdrLen = 1 + wire.SessionIDLen

// None is the wrapper for profiles without tls-auth or tls-crypt.
type None struct{}

// Wrap appends plain unchanged.
func (None) Wrap(dst, plain []byte) ([]byte, error) {
	if len(plain) < hdrLen {
		return dst, fmt.Errorf("tlswrap: plain control packet of %d bytes is shorter than op and session id", len(plain))
	}
	return append(dst, plain...), nil
}

// Unwrap returns pkt unchanged after a length check.
func (n None) Unwrap(pkt []byte) ([]byte, error) { return n.UnwrapNoReplay(pkt) }

// UnwrapNoReplay returns pkt unchanged after a length check.
func (None) UnwrapNoReplay(pkt []byte) ([]byte, error) {
	if len(pkt) < hdrLen {
		return nil, fmt.Errorf("tlswrap: control packet of %d bytes is shorter than op and session id", len(pkt))
	}
	return pkt, nil
}

// SetNextSendID does nothing: there is no replay id without a wrapper.
func (None) SetNextSendID(uint32) {}

// Overhead is 0.
func (None) Overhead() int { return 0 }

// Mode returns "none".
func (None) Mode() string { return "none" }

// sendID is the outgoing long-form replay packet id (id, epoch time).
type sendID struct {
	id   uint32
	time uint32
}

func (s *sendID) next(now func() time.Time) (uint32, uint32, error) {
	if s.time == 0 {
		s.time = uint32(now().Unix())
	}
	if s.id == 0xffffffff {
		t := uint32(now().Unix())
		if t <= s.time {
			return 0, 0, fmt.Errorf("tlswrap: replay packet id space exhausted within one second")
		}
		s.time, s.id = t, 0
	}
	s.id++
	return s.id, s.time, nil
}
