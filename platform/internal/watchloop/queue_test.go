package watchloop

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestQueueBatchesAndReportsOverflow(t *testing.T) {
	q := NewQueue[int]("test buffer", 3)
	for i := range 5 { // two too many: dropped, never blocking
		q.Put(i)
	}
	got, err := q.Receive()
	if !slices.Equal(got, []int{0, 1, 2}) || !errors.Is(err, ErrOverflow) {
		t.Fatalf("Receive = %v, %v; want [0 1 2] and an overflow", got, err)
	}
	q.Put(7)
	if got, err := q.Receive(); !slices.Equal(got, []int{7}) || err != nil {
		t.Fatalf("after the overflow was reported: %v, %v", got, err)
	}
}

func TestQueueCloseWakesReceive(t *testing.T) {
	q := NewQueue[int]("test buffer", 3)
	done := make(chan error, 1)
	go func() { _, err := q.Receive(); done <- err }()
	time.Sleep(20 * time.Millisecond) // let Receive block (either order must work)
	q.Close()
	q.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Receive still blocked 5 s after Close")
	}
}
