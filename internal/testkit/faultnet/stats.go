package faultnet

import "sync/atomic"

type counters struct {
	received, forwarded, lost, blackholed, duplicated, reordered, overflow, bytes atomic.Uint64
}

func (c *counters) snapshot() DirStats {
	return DirStats{
		Received: c.received.Load(), Forwarded: c.forwarded.Load(), Lost: c.lost.Load(),
		Blackholed: c.blackholed.Load(), Duplicated: c.duplicated.Load(), Reordered: c.reordered.Load(),
		Overflow: c.overflow.Load(), Bytes: c.bytes.Load(),
	}
}

// count records a decision for one received packet.
func (c *counters) count(d Decision) {
	c.received.Add(1)
	switch {
	case d.Blackhole:
		c.blackholed.Add(1)
	case d.Drop:
		c.lost.Add(1)
	}
	if d.Dup {
		c.duplicated.Add(1)
	}
	if d.Reordered {
		c.reordered.Add(1)
	}
}
