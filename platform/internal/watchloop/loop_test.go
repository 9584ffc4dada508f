package watchloop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

var errClosed = errors.New("fake receiver closed")

// fakeRecv is a Receiver fed by the test.
type fakeRecv struct {
	ch     chan batch[int]
	closed chan struct{}
	once   sync.Once
}

func (r *fakeRecv) Receive() ([]int, error) {
	select {
	case b := <-r.ch:
		return b.evs, b.err
	case <-r.closed:
		return nil, errClosed
	}
}

func (r *fakeRecv) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// rig runs a Loop over fake receivers and records what it does.
type rig struct {
	t       *testing.T
	recvs   chan *fakeRecv // each Open's receiver
	openErr chan error     // errors for the next Opens, when queued
	out     chan string    // "snap" or "ev 1 2 3"
	sleeps  chan time.Duration
	loop    *Loop[int]
	cancel  context.CancelFunc
	done    chan error
}

func newRig(t *testing.T, configure func(*rig, *Loop[int])) *rig {
	r := &rig{
		t: t, recvs: make(chan *fakeRecv, 16), openErr: make(chan error, 16),
		out: make(chan string, 256), sleeps: make(chan time.Duration, 64), done: make(chan error, 1),
	}
	r.loop = &Loop[int]{
		Name: "test watch",
		Open: func() (Receiver[int], error) {
			select {
			case err := <-r.openErr:
				return nil, err
			default:
			}
			fr := &fakeRecv{ch: make(chan batch[int]), closed: make(chan struct{})}
			r.recvs <- fr
			return fr, nil
		},
		Snapshot: func() error { r.out <- "snap"; return nil },
		Deliver:  func(evs []int) { r.out <- fmt.Sprint("ev ", evs) },
		Coalesce: 50 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.sleeps <- d
			return nil
		},
	}
	if configure != nil {
		configure(r, r.loop)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.loop.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	r.cancel()
	select {
	case err := <-r.done:
		if !errors.Is(err, context.Canceled) {
			r.t.Errorf("Run returned %v, want context.Canceled", err)
		}
		r.done <- err
	case <-time.After(5 * time.Second):
		r.t.Error("Run did not return within 5s of cancel")
	}
}

func (r *rig) recv() *fakeRecv {
	r.t.Helper()
	select {
	case fr := <-r.recvs:
		return fr
	case <-time.After(5 * time.Second):
		r.t.Fatal("no subscription within 5s")
		return nil
	}
}

func (r *rig) next() string {
	r.t.Helper()
	select {
	case s := <-r.out:
		return s
	case <-time.After(5 * time.Second):
		r.t.Fatal("nothing delivered within 5s")
		return ""
	}
}

func (r *rig) expect(want string) {
	r.t.Helper()
	if got := r.next(); got != want {
		r.t.Fatalf("delivered %q, want %q", got, want)
	}
}

func send(fr *fakeRecv, err error, evs ...int) { fr.ch <- batch[int]{evs, err} }

func TestSnapshotThenCoalescedBatch(t *testing.T) {
	r := newRig(t, nil)
	fr := r.recv()
	r.expect("snap")
	start := time.Now()
	send(fr, nil, 1)
	send(fr, nil, 2, 3)
	send(fr, nil, 4)
	r.expect("ev [1 2 3 4]")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("batch delivered after %v, before the 50ms window ended", d)
	}
}

func TestLeadingDeliversALoneEventAtOnce(t *testing.T) {
	r := newRig(t, func(_ *rig, l *Loop[int]) { l.Coalesce = 2 * time.Second; l.Leading = true })
	fr := r.recv()
	r.expect("snap")
	start := time.Now()
	send(fr, nil, 1)
	r.expect("ev [1]")
	if d := time.Since(start); d > time.Second {
		t.Errorf("lone event delivered after %v, want at once", d)
	}
	// Within the window, the burst is grouped and waits for its end.
	send(fr, nil, 2)
	send(fr, nil, 3)
	r.expect("ev [2 3]")
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("burst delivered after %v, before the window ended", d)
	}
}

func TestOverflowDeliversPendingThenSnapshotOnSameSubscription(t *testing.T) {
	r := newRig(t, nil)
	fr := r.recv()
	r.expect("snap")
	send(fr, nil, 1)
	send(fr, fmt.Errorf("read: %w", ErrOverflow), 2)
	r.expect("ev [1 2]")
	r.expect("snap")
	send(fr, nil, 3)
	r.expect("ev [3]")
	select {
	case <-r.recvs:
		t.Error("an overflow resubscribed; want the same subscription")
	default:
	}
}

func TestErrorResubscribesWithBoundedBackoff(t *testing.T) {
	r := newRig(t, func(_ *rig, l *Loop[int]) { l.MinBackoff = 10 * time.Millisecond; l.MaxBackoff = 40 * time.Millisecond })
	fr := r.recv()
	r.expect("snap")
	// Open fails five times in a row, then the stream comes back.
	for i := 0; i < 5; i++ {
		r.openErr <- errors.New("no socket")
	}
	send(fr, errors.New("socket gone"))
	select {
	case <-fr.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("failed subscription not closed")
	}
	fr = r.recv()
	r.expect("snap")
	var got []time.Duration
	for len(r.sleeps) > 0 {
		got = append(got, <-r.sleeps)
	}
	want := []time.Duration{10, 20, 40, 40, 40, 40}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
	send(fr, nil, 7)
	r.expect("ev [7]")
}

func TestPeriodicResync(t *testing.T) {
	r := newRig(t, func(_ *rig, l *Loop[int]) { l.Resync = 30 * time.Millisecond })
	fr := r.recv()
	r.expect("snap")
	send(fr, nil, 1)
	// The resync tick delivers what is pending before its snapshot.
	for i := 0; i < 3; i++ {
		if s := r.next(); s != "snap" && s != "ev [1]" {
			t.Fatalf("delivered %q", s)
		}
	}
}

func TestInjectedEventsAreCoalescedWithReceivedOnes(t *testing.T) {
	inj := make(chan int)
	r := newRig(t, func(_ *rig, l *Loop[int]) { l.Inject = inj })
	fr := r.recv()
	r.expect("snap")
	send(fr, nil, 1)
	inj <- 2
	send(fr, nil, 3)
	// The two sources race; the batch holds all three.
	if got := r.next(); got != "ev [1 2 3]" && got != "ev [2 1 3]" {
		t.Fatalf("delivered %q, want one batch of 1, 2, 3", got)
	}
}

func TestSnapshotErrorResubscribes(t *testing.T) {
	snapErr := make(chan error, 1)
	r := newRig(t, func(r *rig, l *Loop[int]) {
		l.Snapshot = func() error {
			r.out <- "snap"
			select {
			case err := <-snapErr:
				return err
			default:
				return nil
			}
		}
	})
	fr := r.recv()
	r.expect("snap")
	snapErr <- errors.New("list failed")
	send(fr, fmt.Errorf("%w", ErrOverflow))
	r.expect("snap") // fails
	r.recv()
	r.expect("snap")
	if d := <-r.sleeps; d != DefaultMinBackoff {
		t.Errorf("backoff %v", d)
	}
}

func TestClosedInjectIsIgnored(t *testing.T) {
	inj := make(chan int)
	close(inj)
	r := newRig(t, func(_ *rig, l *Loop[int]) { l.Inject = inj })
	fr := r.recv()
	r.expect("snap")
	send(fr, nil, 5)
	r.expect("ev [5]")
}
