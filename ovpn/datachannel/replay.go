package datachannel

import (
	"errors"
	"time"
)

// ReplayWindowSize is the number of packet ids the receiver remembers.
const ReplayWindowSize = 64

// DefaultBacktrack is OpenVPN's default time backtrack (--replay-window 64 15).
const DefaultBacktrack = 15 * time.Second

// Replay errors.
var (
	ErrReplayZero      = errors.New("datachannel: packet_id 0 is never valid")
	ErrReplayDuplicate = errors.New("datachannel: replayed packet (packet_id already seen)")
	ErrReplayTooOld    = errors.New("datachannel: packet_id too old for the 64-packet replay window")
	ErrReplayExpired   = errors.New("datachannel: late packet outside the replay time backtrack")
)

// ReplayWindow is the receive-side anti-replay state of one key: a 64-entry
// sliding window over packet ids plus OpenVPN's time backtrack (a late
// packet is refused once a packet at or after its position in the window
// was received more than Backtrack ago). It is not safe for concurrent use.
type ReplayWindow struct {
	// Backtrack is the time backtrack; zero or negative disables it.
	Backtrack time.Duration
	highest   uint32
	seen      [ReplayWindowSize]int64 // receive time (unix ns) by id%64; 0 = not seen
}

// Check reports whether id may be accepted at time now (unix ns) without
// changing the window.
func (w *ReplayWindow) Check(id uint32, now int64) error {
	if id == 0 {
		return ErrReplayZero
	}
	if id > w.highest {
		return nil
	}
	diff := w.highest - id
	if diff >= ReplayWindowSize {
		return ErrReplayTooOld
	}
	if w.seen[id%ReplayWindowSize] != 0 {
		return ErrReplayDuplicate
	}
	if w.Backtrack > 0 {
		limit := now - int64(w.Backtrack)
		for j := id; ; j++ {
			if t := w.seen[j%ReplayWindowSize]; t != 0 && t < limit {
				return ErrReplayExpired
			}
			if j == w.highest {
				break
			}
		}
	}
	return nil
}

// Commit records id as received at now (unix ns). Call it only after the
// packet authenticated and Check accepted it.
func (w *ReplayWindow) Commit(id uint32, now int64) {
	if now == 0 {
		now = 1
	}
	if id > w.highest {
		diff := id - w.highest
		if diff >= ReplayWindowSize {
			w.seen = [ReplayWindowSize]int64{}
		} else {
			for k := w.highest + 1; k != id; k++ {
				w.seen[k%ReplayWindowSize] = 0
			}
		}
		w.highest = id
	}
	w.seen[id%ReplayWindowSize] = now
}

// Highest returns the highest packet id accepted so far.
func (w *ReplayWindow) Highest() uint32 { return w.highest }
