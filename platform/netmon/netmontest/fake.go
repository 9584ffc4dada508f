package netmontest

import (
	"context"
	"sync"
	"time"

	"github.com/cvpn/cvpn/platform/netmon"
)

// Monitor is a fake netmon.Notifier. The zero value is not usable; use New.
type Monitor struct {
	changes chan netmon.Change

	mu     sync.Mutex
	recent []netmon.Change
	runs   int
}

var _ netmon.Notifier = (*Monitor)(nil)

// New returns a fake monitor whose Changes channel holds up to 64 changes.
func New() *Monitor { return &Monitor{changes: make(chan netmon.Change, 64)} }

// Send delivers c to the consumer (Time set to now when zero) and records
// it for Recent; it blocks while the channel is full.
func (m *Monitor) Send(c netmon.Change) {
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	m.mu.Lock()
	m.recent = append(m.recent, c)
	m.mu.Unlock()
	m.changes <- c
}

// Run waits until ctx is done and returns ctx.Err(), like netmon.Monitor.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	m.runs++
	m.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

// Runs reports how many times Run was called.
func (m *Monitor) Runs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs
}

// Changes implements netmon.Notifier.
func (m *Monitor) Changes() <-chan netmon.Change { return m.changes }

// Recent implements netmon.Notifier: every change sent, oldest first.
func (m *Monitor) Recent() []netmon.Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]netmon.Change(nil), m.recent...)
}
