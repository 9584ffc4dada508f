package watchloop

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Queue.Receive after Close.
var ErrClosed = errors.New("subscription closed")

// Queue is the bounded hand-off between OS callbacks, which must never
// block, and a Receiver's Receive: Put drops an event when the queue is
// full and remembers it; Receive returns what is queued and reports the
// drop as ErrOverflow, so the loop takes a new snapshot. The Windows
// notification callbacks use it.
type Queue[E any] struct {
	name     string
	ch       chan E
	overflow atomic.Bool
	closed   chan struct{}
	once     sync.Once
}

// NewQueue makes a queue holding up to size events; name goes into its
// errors ("route change buffer").
func NewQueue[E any](name string, size int) *Queue[E] {
	return &Queue[E]{name: name, ch: make(chan E, size), closed: make(chan struct{})}
}

// Put queues e without blocking; when the queue is full e is dropped and
// the next Receive reports ErrOverflow.
func (q *Queue[E]) Put(e E) {
	select {
	case q.ch <- e:
	default:
		q.overflow.Store(true)
	}
}

// Receive blocks until at least one event is queued and returns all that
// are (at most the queue's size), with an error wrapping ErrOverflow if
// events were dropped since the last call. After Close it returns
// ErrClosed.
func (q *Queue[E]) Receive() ([]E, error) {
	var out []E
	select {
	case <-q.closed:
		return nil, fmt.Errorf("%s: %w", q.name, ErrClosed)
	case e := <-q.ch:
		out = append(out, e)
	}
	for len(out) < cap(q.ch) {
		select {
		case e := <-q.ch:
			out = append(out, e)
		default:
			return out, q.dropped()
		}
	}
	return out, q.dropped()
}

// dropped reports (once) that events were dropped since the last call.
func (q *Queue[E]) dropped() error {
	if q.overflow.Swap(false) {
		return fmt.Errorf("%s: %w", q.name, ErrOverflow)
	}
	return nil
}

// Close wakes a blocked Receive; later calls return ErrClosed. It is
// safe to call more than once.
func (q *Queue[E]) Close() { q.once.Do(func() { close(q.closed) }) }
