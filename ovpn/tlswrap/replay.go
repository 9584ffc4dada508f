package tlswrap

import (
	"fmt"
	"time"
)

// Replay window defaults (OpenVPN --replay-window 64 15).
const (
	DefaultReplayWindow = 64
	DefaultReplayTime   = 15 * time.Second
)

// replayWindow implements the long-form (id, time) replay check: a newer
// epoch time resets the window, an older one is rejected; within an epoch
// an id is accepted once, if it is at most 64 behind the highest seen and
// the window moved past it less than 15 s ago.
type replayWindow struct {
	epoch   uint32
	highest uint32
	seen    [DefaultReplayWindow]bool
	passed  [DefaultReplayWindow]time.Time // when the window moved past this slot
	started bool
}

func (w *replayWindow) check(id, t uint32, now time.Time) error {
	if id == 0 {
		return fmt.Errorf("replay packet id 0 is invalid: %w", ErrReplay)
	}
	if !w.started || t > w.epoch {
		return nil
	}
	if t < w.epoch {
		return fmt.Errorf("replay time %d is older than current %d: %w", t, w.epoch, ErrReplay)
	}
	if id > w.highest {
		return nil
	}
	diff := w.highest - id
	if diff >= DefaultReplayWindow {
		return fmt.Errorf("replay packet id %d is %d behind %d, outside the window of %d: %w", id, diff, w.highest, DefaultReplayWindow, ErrReplay)
	}
	slot := id % DefaultReplayWindow
	if w.seen[slot] {
		return fmt.Errorf("replay packet id %d was already received: %w", id, ErrReplay)
	}
	if now.Sub(w.passed[slot]) > DefaultReplayTime {
		return fmt.Errorf("replay packet id %d arrived more than %v after later packets: %w", id, DefaultReplayTime, ErrReplay)
	}
	return nil
}

// add records an id that passed check and authentication.
func (w *replayWindow) add(id, t uint32, now time.Time) {
	if !w.started || t > w.epoch {
		w.started = true
		w.epoch = t
		w.highest = id
		for i := range w.seen {
			w.seen[i] = false
			w.passed[i] = now
		}
		w.seen[id%DefaultReplayWindow] = true
		return
	}
	if id > w.highest {
		gap := id - w.highest
		if gap > DefaultReplayWindow {
			gap = DefaultReplayWindow
		}
		for i := uint32(1); i <= gap; i++ {
			s := (id - gap + i) % DefaultReplayWindow
			w.seen[s] = false
			w.passed[s] = now
		}
		w.highest = id
	}
	w.seen[id%DefaultReplayWindow] = true
}
