package netmon

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
)

// fakeSource is a source whose state and events the test sets.
type fakeSource struct {
	mu     sync.Mutex
	st     state
	events chan []event
	closed bool
	reads  int
	read   chan struct{} // closed by the first state read (the baseline)
}

func newFakeSource() *fakeSource {
	return &fakeSource{events: make(chan []event), read: make(chan struct{}), st: state{
		defaults: []defaultRoute{{ifname: "eth0", gateway: netip.MustParseAddr("192.0.2.1")}},
		addrs:    []ifAddr{{"eth0", netip.MustParseAddr("192.0.2.2")}},
		links:    map[string]bool{"eth0": true},
	}}
}

func (f *fakeSource) set(change func(*state)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := state{
		defaults: append([]defaultRoute(nil), f.st.defaults...),
		addrs:    append([]ifAddr(nil), f.st.addrs...),
		links:    map[string]bool{},
	}
	for k, v := range f.st.links {
		st.links[k] = v
	}
	change(&st)
	f.st = st
}

func (f *fakeSource) state() (state, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reads++; f.reads == 1 {
		close(f.read)
	}
	return f.st, nil
}

func (f *fakeSource) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeSource) open() (watchloop.Receiver[event], error) {
	return &fakeRecv{src: f, done: make(chan struct{})}, nil
}

type fakeRecv struct {
	src  *fakeSource
	done chan struct{}
	once sync.Once
}

func (r *fakeRecv) Receive() ([]event, error) {
	select {
	case evs := <-r.src.events:
		return evs, nil
	case <-r.done:
		return nil, errors.New("closed")
	}
}

func (r *fakeRecv) Close() error {
	r.once.Do(func() { close(r.done) })
	return nil
}

// fakeClock is a wall clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// start runs a monitor over src until the test ends.
func start(t *testing.T, src *fakeSource, opts Options) *Monitor {
	t.Helper()
	opts.NoLogind = true
	m := newMonitor(opts, src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
		if !src.closed {
			t.Error("source not closed after Run")
		}
	})
	// The baseline is read right after the first subscription.
	select {
	case <-src.read:
	case <-time.After(5 * time.Second):
		t.Fatal("no baseline read within 5s")
	}
	return m
}

func next(t *testing.T, m *Monitor, within time.Duration) Change {
	t.Helper()
	select {
	case c := <-m.Changes():
		return c
	case <-time.After(within):
		t.Fatalf("no change within %v", within)
		return Change{}
	}
}

func none(t *testing.T, m *Monitor, during time.Duration) {
	t.Helper()
	select {
	case c := <-m.Changes():
		t.Fatalf("unexpected change %+v", c)
	case <-time.After(during):
	}
}

func TestBurstIsOneChangeWithTheRightFlags(t *testing.T) {
	src := newFakeSource()
	m := start(t, src, Options{Coalesce: 100 * time.Millisecond})
	// The address moves and the default route follows: five events.
	begin := time.Now()
	src.set(func(s *state) { s.addrs = []ifAddr{{"eth0", netip.MustParseAddr("192.0.2.3")}} })
	src.events <- []event{{kind: evAddress}, {kind: evAddress}}
	src.set(func(s *state) { s.defaults[0].gateway = netip.MustParseAddr("192.0.2.254") })
	src.events <- []event{{kind: evRoute}}
	src.events <- []event{{kind: evRoute}, {kind: evRoute}}
	c := next(t, m, 2*time.Second)
	if d := time.Since(begin); d < 100*time.Millisecond {
		t.Errorf("change after %v, before the 100ms window ended", d)
	}
	if !c.Address || !c.DefaultRoute || c.Link || c.Resumed {
		t.Errorf("flags %+v, want Address and DefaultRoute", c)
	}
	for _, want := range []string{"address added 192.0.2.3 on eth0", "address removed 192.0.2.2 on eth0", "IPv4 default route via 192.0.2.1 dev eth0 -> via 192.0.2.254 dev eth0"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("detail %q lacks %q", c.Detail, want)
		}
	}
	none(t, m, 300*time.Millisecond)
	if r := m.Recent(); len(r) != 1 || r[0].Detail != c.Detail {
		t.Errorf("Recent %+v, want the one change", r)
	}
}

func TestLinkDownIsLinkOnly(t *testing.T) {
	src := newFakeSource()
	m := start(t, src, Options{Coalesce: 20 * time.Millisecond})
	src.set(func(s *state) { s.links["wlan0"] = true })
	src.events <- []event{{kind: evLink}}
	if c := next(t, m, 2*time.Second); !c.Link || c.Address || c.DefaultRoute || c.Detail != "link wlan0 up" {
		t.Errorf("new link: %+v", c)
	}
	src.set(func(s *state) { s.links["wlan0"] = false })
	src.events <- []event{{kind: evLink}}
	if c := next(t, m, 2*time.Second); !c.Link || c.Detail != "link wlan0 down" {
		t.Errorf("link down: %+v", c)
	}
}

func TestEventsWithoutADifferenceReportNothing(t *testing.T) {
	src := newFakeSource()
	m := start(t, src, Options{Coalesce: 20 * time.Millisecond})
	src.events <- []event{{kind: evAddress}, {kind: evRoute}, {kind: evLink}}
	none(t, m, 200*time.Millisecond)
}

func TestOwnTunnelIsIgnored(t *testing.T) {
	src := newFakeSource()
	m := start(t, src, Options{Coalesce: 20 * time.Millisecond})
	// cvpn0 matches the default pattern; utun4 is added at run time.
	m.Ignore("utun4")
	for _, tun := range []string{"cvpn0", "utun4"} {
		src.set(func(s *state) {
			s.links[tun] = true
			s.addrs = append(s.addrs, ifAddr{tun, netip.MustParseAddr("10.8.0.6")})
			s.defaults = append(s.defaults, defaultRoute{ifname: tun}) // metric 0 beats eth0's
		})
		src.events <- []event{{kind: evLink}, {kind: evAddress}, {kind: evRoute}}
		none(t, m, 200*time.Millisecond)
	}
	// A change of a real interface still counts, and names only it.
	src.set(func(s *state) { s.addrs = append(s.addrs, ifAddr{"eth0", netip.MustParseAddr("2001:db8::2")}) })
	src.events <- []event{{kind: evAddress}}
	if c := next(t, m, 2*time.Second); !c.Address || c.DefaultRoute || c.Detail != "address added 2001:db8::2 on eth0" {
		t.Errorf("change %+v", c)
	}
}

func TestClockJumpReportsResume(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
	src := newFakeSource()
	m := start(t, src, Options{Clock: clk, Coalesce: 20 * time.Millisecond, ClockCheckInterval: 10 * time.Millisecond, ClockJump: time.Second})
	clk.add(500 * time.Millisecond) // within the allowed jump
	none(t, m, 200*time.Millisecond)
	clk.add(time.Hour)
	c := next(t, m, 2*time.Second)
	if !c.Resumed || c.DefaultRoute || c.Address || c.Link {
		t.Errorf("flags %+v, want Resumed only", c)
	}
	if !strings.Contains(c.Detail, "wall clock jumped 1h0m0s") || !c.Time.Equal(clk.Now()) {
		t.Errorf("change %+v", c)
	}
	clk.add(-time.Hour) // set back
	if c := next(t, m, 2*time.Second); !c.Resumed {
		t.Errorf("backwards jump: %+v", c)
	}
}

func TestResumeAndNetworkChangeInOneBurst(t *testing.T) {
	src := newFakeSource()
	m := start(t, src, Options{Coalesce: 50 * time.Millisecond})
	m.inject <- event{kind: evResume, detail: "resumed from sleep (logind)"}
	src.set(func(s *state) { s.defaults = nil })
	src.events <- []event{{kind: evRoute}}
	c := next(t, m, 2*time.Second)
	if !c.Resumed || !c.DefaultRoute || c.Detail != "resumed from sleep (logind); IPv4 default route via 192.0.2.1 dev eth0 -> none" {
		t.Errorf("change %+v", c)
	}
}

func TestSlowConsumerGetsMergedChangesAndRecentIsBounded(t *testing.T) {
	src := newFakeSource()
	m := newMonitor(Options{Recent: 5}, src)
	for i := 0; i < 40; i++ {
		c := Change{Address: true, Detail: "a"}
		if i == 3 {
			c = Change{Resumed: true, Detail: "r"}
		}
		m.emit(c)
	}
	var got Change
	n := 0
	for len(m.changes) > 0 {
		c := <-m.changes
		got = merge(got, c)
		n++
	}
	if n != cap(m.changes) || !got.Resumed || !got.Address {
		t.Errorf("%d queued, merged %+v; want a full queue keeping the resume", n, got)
	}
	if r := m.Recent(); len(r) != 5 {
		t.Errorf("Recent has %d, want 5", len(r))
	}
}
