package faultnet

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Impairment describes what happens to packets in one direction.
type Impairment struct {
	// Loss is the probability (0..1) that a packet is dropped (UDP) or
	// stalled for LossPenalty (TCP).
	Loss float64
	// Delay is added to every packet.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter). For UDP it
	// reorders packets closer together than the jitter, like netem.
	Jitter time.Duration
	// Duplicate is the probability (0..1) a UDP packet is sent twice.
	Duplicate float64
	// Reorder is the probability (0..1) a UDP packet is held back by
	// ReorderGap so later packets overtake it.
	Reorder float64
	// ReorderGap is the hold-back for reordered packets (default 10 ms).
	ReorderGap time.Duration
	// LossPenalty is the stall a TCP "lost" chunk suffers (default 200 ms,
	// Linux's minimum retransmission timeout).
	LossPenalty time.Duration
	// Blackhole drops every UDP packet and holds every TCP byte until it
	// is switched off again.
	Blackhole bool
}

// Validate reports probabilities outside 0..1 and negative durations.
func (im Impairment) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", im.Loss}, {"Duplicate", im.Duplicate}, {"Reorder", im.Reorder}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("faultnet: Impairment.%s = %v, want a probability in [0, 1]", p.name, p.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Delay", im.Delay}, {"Jitter", im.Jitter}, {"ReorderGap", im.ReorderGap}, {"LossPenalty", im.LossPenalty}} {
		if d.v < 0 {
			return fmt.Errorf("faultnet: Impairment.%s = %v, want >= 0", d.name, d.v)
		}
	}
	return nil
}

func (im Impairment) reorderGap() time.Duration {
	if im.ReorderGap > 0 {
		return im.ReorderGap
	}
	return 10 * time.Millisecond
}

func (im Impairment) lossPenalty() time.Duration {
	if im.LossPenalty > 0 {
		return im.LossPenalty
	}
	return 200 * time.Millisecond
}

// Direction names one way through the proxy.
type Direction int

const (
	// Up is from the connecting peer (client) to the target (server).
	Up Direction = iota
	// Down is from the target back to the connecting peer.
	Down
)

func (d Direction) String() string {
	if d == Up {
		return "up"
	}
	return "down"
}

// DirStats counts what happened to packets (UDP) or chunks (TCP) in one
// direction.
type DirStats struct {
	Received   uint64 // packets or chunks read
	Forwarded  uint64 // copies written (duplicates included)
	Lost       uint64 // dropped by Loss (UDP) or stalled by it (TCP)
	Blackholed uint64 // dropped (UDP) or held (TCP) by the blackhole
	Duplicated uint64
	Reordered  uint64
	Overflow   uint64 // dropped because the queue was full
	Bytes      uint64 // payload bytes forwarded
}

// Stats is a snapshot of both directions.
type Stats struct {
	Up, Down DirStats
}

// Decision is what the impairment decided for one packet.
type Decision struct {
	Drop      bool          // lost (UDP) — for TCP this means "stall"
	Blackhole bool          // dropped or held by the blackhole
	Delay     time.Duration // total delay of the first copy
	Dup       bool          // send a second copy
	DupDelay  time.Duration // delay of the second copy
	Reordered bool
}

// decider turns an Impairment and a seeded PRNG into per-packet decisions.
// It is safe for concurrent use.
type decider struct {
	mu  sync.Mutex
	im  Impairment
	rng *rand.Rand
}

func newDecider(im Impairment, seed uint64, dir Direction) *decider {
	return &decider{im: im, rng: rand.New(rand.NewPCG(seed, uint64(dir)+0x9e3779b97f4a7c15))}
}

func (d *decider) set(im Impairment) {
	d.mu.Lock()
	d.im = im
	d.mu.Unlock()
}

func (d *decider) get() Impairment {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.im
}

// decide draws the same number of random values for every packet so a
// packet's fate depends only on the seed and its position in the sequence.
func (d *decider) decide(tcp bool) Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	im := d.im
	rLoss, rJit, rDup, rReo, rDupJit := d.rng.Float64(), d.rng.Float64(), d.rng.Float64(), d.rng.Float64(), d.rng.Float64()
	var dec Decision
	if im.Blackhole {
		dec.Blackhole = true
		return dec
	}
	dec.Delay = im.Delay + time.Duration(rJit*float64(im.Jitter))
	if rLoss < im.Loss {
		dec.Drop = true
		if tcp {
			dec.Delay += im.lossPenalty()
		}
		return dec
	}
	if tcp {
		return dec
	}
	if rReo < im.Reorder {
		dec.Reordered = true
		dec.Delay += im.reorderGap()
	}
	if rDup < im.Duplicate {
		dec.Dup = true
		dec.DupDelay = im.Delay + time.Duration(rDupJit*float64(im.Jitter))
	}
	return dec
}
