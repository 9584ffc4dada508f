package watchloop

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrOverflow is returned by Receiver.Receive (wrapped, possibly together
// with events) when the OS dropped events but the subscription goes on: the
// loop delivers what it has and a new snapshot.
var ErrOverflow = errors.New("event buffer overflow: events were lost")

// Receiver is one subscription to an OS event stream.
type Receiver[E any] interface {
	// Receive blocks until events arrive and returns them. An error wrapping
	// ErrOverflow keeps the subscription; any other error ends it (the loop
	// closes it and subscribes again). After Close, Receive must return an
	// error (at once, or after the events still buffered).
	Receive() ([]E, error)
	// Close ends the subscription and wakes a blocked Receive.
	Close() error
}

// Defaults of Loop.
const (
	DefaultMinBackoff = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
)

// Loop watches one event stream. Open, Snapshot and Deliver are required;
// Snapshot and Deliver are called from the goroutine running Run.
type Loop[E any] struct {
	// Name is used in log messages ("route watch").
	Name   string
	Logger *slog.Logger
	// Open starts a subscription; no event after it returns is lost.
	Open func() (Receiver[E], error)
	// Snapshot delivers the full current state. It is called after each
	// Open, after an overflow and every Resync; an error ends the
	// subscription like a failed Receive.
	Snapshot func() error
	// Deliver receives one coalesced batch of events, in order.
	Deliver func([]E)
	// Inject carries events from outside the subscription (for example
	// resume detectors); they are coalesced with the received ones. Nil for
	// none; closing it ends injection.
	Inject <-chan E
	// Coalesce groups events arriving within it into one batch.
	Coalesce time.Duration
	// Leading delivers the first events after a quiet period (no delivery
	// within Coalesce) at once, so a lone event costs no delay; later
	// events of the burst are grouped until the window ends. Without it
	// every batch waits Coalesce after its first event.
	Leading bool
	// Resync is how often a snapshot is delivered as a safety net; zero
	// for never.
	Resync time.Duration
	// MinBackoff and MaxBackoff bound the wait before subscribing again
	// after an error (doubling from min to max); zero for the defaults.
	MinBackoff, MaxBackoff time.Duration
	// Sleep waits d or until ctx is done; nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Run watches until ctx is done, then returns ctx.Err(). It owns every
// goroutine it starts and waits for them before it returns.
func (l *Loop[E]) Run(ctx context.Context) error {
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minB, maxB := l.MinBackoff, l.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB < minB {
		maxB = max(DefaultMaxBackoff, minB)
	}
	sleep := l.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	backoff := minB
	for {
		err := l.once(ctx, log)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn(l.Name+" interrupted; resubscribing", "err", err, "backoff", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return ctx.Err()
		}
		backoff = min(2*backoff, maxB)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type batch[E any] struct {
	evs []E
	err error
}

// once runs one subscription until ctx is done (nil) or it fails.
func (l *Loop[E]) once(ctx context.Context, log *slog.Logger) error {
	r, err := l.Open()
	if err != nil {
		return err
	}
	batches := make(chan batch[E], 1)
	go func() {
		defer close(batches)
		for {
			evs, err := r.Receive()
			batches <- batch[E]{evs, err}
			if err != nil && !errors.Is(err, ErrOverflow) {
				return
			}
		}
	}()
	defer func() {
		// Close wakes Receive, whose error ends the reader; drain until then.
		if err := r.Close(); err != nil {
			log.Debug(l.Name+": close subscription", "err", err)
		}
		for range batches {
		}
	}()

	if err := l.Snapshot(); err != nil {
		return err
	}
	var resync <-chan time.Time
	if l.Resync > 0 {
		t := time.NewTicker(l.Resync)
		defer t.Stop()
		resync = t.C
	}
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	var (
		pending      []E
		lastDelivery time.Time
		inject       = l.Inject
	)
	deliver := func() {
		flush.Stop()
		if len(pending) > 0 {
			l.Deliver(pending)
			pending = nil
			lastDelivery = time.Now()
		}
	}
	// add queues evs; the first events after a quiet period arm the flush
	// timer or, with Leading, are delivered at once.
	add := func(evs []E) {
		if len(evs) == 0 {
			return
		}
		wasEmpty := len(pending) == 0
		pending = append(pending, evs...)
		if !wasEmpty {
			return
		}
		if l.Leading && time.Since(lastDelivery) >= l.Coalesce {
			deliver()
			return
		}
		flush.Reset(l.Coalesce)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-inject:
			if !ok {
				inject = nil // closed: no more injected events
				continue
			}
			add([]E{e})
		case b, ok := <-batches:
			if !ok {
				return errors.New("subscription ended")
			}
			add(b.evs)
			if b.err == nil {
				continue
			}
			deliver()
			if !errors.Is(b.err, ErrOverflow) {
				return b.err
			}
			log.Warn(l.Name+": events lost; resyncing", "err", b.err)
			if err := l.Snapshot(); err != nil {
				return err
			}
		case <-flush.C:
			deliver()
		case <-resync:
			deliver()
			if err := l.Snapshot(); err != nil {
				return err
			}
		}
	}
}
