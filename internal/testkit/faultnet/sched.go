package faultnet

import (
	"container/heap"
	"sync"
	"time"
)

// item is one packet copy waiting for its send time.
type item struct {
	at   time.Time
	seq  uint64 // FIFO among equal times
	send func()
}

type itemHeap []item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// scheduler runs delayed sends from one goroutine, which run starts and
// stop ends. At most max items wait at a time.
type scheduler struct {
	now  func() time.Time
	max  int
	mu   sync.Mutex
	h    itemHeap
	seq  uint64
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newScheduler(now func() time.Time, max int) *scheduler {
	s := &scheduler{now: now, max: max, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// add queues send to run after delay; false means the queue is full.
func (s *scheduler) add(delay time.Duration, send func()) bool {
	s.mu.Lock()
	if len(s.h) >= s.max {
		s.mu.Unlock()
		return false
	}
	s.seq++
	heap.Push(&s.h, item{at: s.now().Add(delay), seq: s.seq, send: send})
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return true
}

func (s *scheduler) run() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		var due []func()
		wait := time.Hour
		s.mu.Lock()
		now := s.now()
		for len(s.h) > 0 {
			if d := s.h[0].at.Sub(now); d > 0 {
				wait = d
				break
			}
			due = append(due, heap.Pop(&s.h).(item).send)
		}
		s.mu.Unlock()
		for _, f := range due {
			f()
		}
		if len(due) > 0 {
			continue
		}
		t.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.kick:
			if !t.Stop() {
				<-t.C
			}
		case <-t.C:
		}
	}
}

// close stops the goroutine; queued packets are discarded.
func (s *scheduler) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}
