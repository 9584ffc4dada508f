//go:build darwin || windows

package netmon_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
	"github.com/cvpn/cvpn/platform/netmon"
)

// jumpClock is the real clock plus an offset the test moves, as the wall
// clock moves when the machine sleeps.
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// logRecorder keeps the messages of the records it handles.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) has(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.msgs, msg)
}

func (r *logRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// TestOSResumeSources: the resume sources of a monitor on the real OS start
// and stop cleanly: the OS's suspend/resume registration is made and undone
// when the monitor stops (Windows: PowerRegisterSuspendResumeNotification,
// PowerUnregister... succeeds; macOS: IORegisterForSystemPower through
// purego, its run loop stopped and IODeregisterForSystemPower and
// IOServiceClose succeed); on both systems the clock-jump detector,
// running beside the real routing socket and notification source, reports
// Resumed when the wall clock jumps. A real sleep cannot be triggered on a
// CI runner, so PBT_APMRESUMEAUTOMATIC and kIOMessageSystemHasPoweredOn
// themselves are not delivered here. The test changes nothing on the
// machine; it is gated with the other OS tests because it opens the real
// sources.
func TestOSResumeSources(t *testing.T) {
	osinteg.Require(t, "TestOSResumeSources (network monitor: suspend/resume registration and clock-jump check)")
	logs := &logRecorder{}
	clock := &jumpClock{}
	m, err := netmon.New(netmon.Options{
		Logger:             slog.New(logs),
		Clock:              clock,
		Coalesce:           50 * time.Millisecond,
		ClockCheckInterval: 200 * time.Millisecond,
		ClockJump:          2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("monitor did not stop within 10s")
		}
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	const listening = "netmon: listening for suspend/resume notifications"
	register, unregister := "IORegisterForSystemPower", "IODeregisterForSystemPower"
	if isWindows {
		register, unregister = "PowerRegisterSuspendResumeNotification", "PowerUnregisterSuspendResumeNotification"
	}
	for i := 0; i < 100 && !logs.has(listening); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if !logs.has(listening) {
		t.Fatalf("%s: no registration within 5s; log: %q", register, logs.all())
	}
	time.Sleep(500 * time.Millisecond) // the first snapshot and clock reading
	clock.offset.Store(int64(time.Hour))
	deadline := time.After(10 * time.Second)
	for resumed := false; !resumed; {
		select {
		case c := <-m.Changes():
			resumed = c.Resumed
		case <-deadline:
			t.Fatalf("no Resumed change within 10s of a one-hour clock jump; recent: %+v", m.Recent())
		}
	}
	stop()
	stopped = true
	if !logs.has("netmon: suspend/resume notifications stopped") {
		t.Errorf("%s did not succeed when the monitor stopped; log: %q", unregister, logs.all())
	}
}
