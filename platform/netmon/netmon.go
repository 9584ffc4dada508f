package netmon

import (
	"context"
	"errors"
	"log/slog"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
)

// Change is one coalesced change of the network.
type Change struct {
	Time         time.Time
	DefaultRoute bool   // default route or the interface carrying it changed
	Address      bool   // a local unicast address was added or removed
	Link         bool   // an interface went up or down
	Resumed      bool   // the machine resumed from sleep (or the clock jumped)
	Sleeping     bool   // the machine is going to sleep (logind, Windows power events)
	Detail       string // short human text for logs and diagnostics, no secrets
}

// Clock is the wall clock the monitor reads; tests inject one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Defaults of Options.
const (
	DefaultCoalesce           = 150 * time.Millisecond
	DefaultResync             = 30 * time.Second
	DefaultClockCheckInterval = 5 * time.Second
	DefaultClockJump          = 10 * time.Second
	DefaultRecent             = 32
)

// DefaultIgnorePattern matches the interfaces a monitor
// ignores unless Options.IgnoreInterfaces says otherwise: cvpn's TUN
// devices on Linux and Windows (platform.DefaultTUNName).
const DefaultIgnorePattern = "cvpn*"

// Options configure a Monitor. The zero value watches the running OS.
type Options struct {
	Logger *slog.Logger
	// Clock is read for Change.Time and the clock-jump check; nil for the
	// real clock.
	Clock Clock
	// IgnoreInterfaces are path.Match patterns of interface names whose
	// links, addresses and routes never count (cvpn's own tunnel); nil for
	// DefaultIgnorePattern. Monitor.Ignore adds names later (a macOS
	// utunN is known only once created).
	IgnoreInterfaces []string
	// Coalesce groups a burst of events into one Change; default 150ms.
	Coalesce time.Duration
	// Resync re-reads the state as a safety net this often; default 30s.
	Resync time.Duration
	// ClockCheckInterval is how often the clock is read, and ClockJump how
	// far it may move beyond that interval (forwards or backwards) before
	// the monitor reports Resumed; defaults 5s and 10s.
	ClockCheckInterval time.Duration
	ClockJump          time.Duration
	// Recent is how many changes Recent keeps; default 32.
	Recent int
	// NetNSPath (Linux) watches the network namespace at this path
	// (/var/run/netns/NAME) instead of the current one; for tests and tools.
	NetNSPath string
	// DBusAddress (Linux) is the bus logind's PrepareForSleep is read from;
	// empty for the system bus. NoLogind disables it (the clock-jump check
	// still runs).
	DBusAddress string
	NoLogind    bool
}

// Notifier is what a consumer needs of a monitor; *Monitor and the fake in
// netmon/netmontest implement it.
type Notifier interface {
	Run(ctx context.Context) error
	Changes() <-chan Change
	Recent() []Change
}

// eventKind is what an OS event or a detector reports; events only trigger
// a new look at the state, except resume.
type eventKind int

const (
	evRoute eventKind = iota
	evAddress
	evLink
	evResume
	evSleep
)

type event struct {
	kind   eventKind
	detail string
}

// source is a per-OS event source with a way to read the state.
type source interface {
	open() (watchloop.Receiver[event], error)
	state() (state, error)
	close() error
}

// Monitor watches the network. Create it with New, run it with Run.
type Monitor struct {
	opts    Options
	log     *slog.Logger
	clock   Clock
	open    func() (source, error) // the OS source, opened by Run
	src     source                 // set by Run
	changes chan Change
	inject  chan event
	running atomic.Bool

	mu     sync.Mutex
	ignore []string
	recent []Change

	// Owned by the goroutine running Run.
	prev     state
	havePrev bool
}

// New checks the options and the OS; it holds no OS resource: Run opens
// the source (a netlink socket on Linux) and releases it when it returns.
func New(opts Options) (*Monitor, error) {
	if err := preflight(&opts); err != nil {
		return nil, err
	}
	m := newMonitor(opts, nil)
	m.open = func() (source, error) { return newSource(&m.opts) }
	return m, nil
}

// newMonitor returns a monitor over src (tests) with the defaults set.
func newMonitor(opts Options, src source) *Monitor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.IgnoreInterfaces == nil {
		opts.IgnoreInterfaces = []string{DefaultIgnorePattern}
	}
	if opts.Coalesce <= 0 {
		opts.Coalesce = DefaultCoalesce
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	if opts.ClockCheckInterval <= 0 {
		opts.ClockCheckInterval = DefaultClockCheckInterval
	}
	if opts.ClockJump <= 0 {
		opts.ClockJump = DefaultClockJump
	}
	if opts.Recent <= 0 {
		opts.Recent = DefaultRecent
	}
	return &Monitor{
		opts: opts, log: opts.Logger, clock: opts.Clock,
		open:    func() (source, error) { return src, nil },
		changes: make(chan Change, 16), inject: make(chan event, 16),
		ignore: append([]string(nil), opts.IgnoreInterfaces...),
	}
}

// Changes returns the coalesced changes. The channel is never closed; when
// the consumer falls behind, queued changes are merged, never lost.
func (m *Monitor) Changes() <-chan Change { return m.changes }

// Recent returns the last changes, oldest first, for diagnostics.
func (m *Monitor) Recent() []Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Change(nil), m.recent...)
}

// Ignore adds interface names (or path.Match patterns) whose links,
// addresses and routes never count from now on, for example the TUN device
// once it exists.
func (m *Monitor) Ignore(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ignore = append(m.ignore, names...)
}

func (m *Monitor) ignored(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.ignore {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// Run watches until ctx is done, then returns ctx.Err(); it fails at once
// when the OS source cannot be opened. It owns its goroutines (the watch
// loop's reader, the clock check, the logind listener) and stops them
// before it returns. A Monitor runs once.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("netmon: Run called twice")
	}
	src, err := m.open()
	if err != nil {
		return err
	}
	m.src = src
	defer func() {
		if err := m.src.close(); err != nil {
			m.log.Debug("netmon: close source", "err", err)
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the Wait
	// The clock's baseline is taken here, before the first snapshot, so
	// a stop right after the monitor reports its state is still seen.
	since := m.clock.Now().Round(0)
	wg.Go(func() { m.watchClock(ctx, since) })
	wg.Go(func() { m.watchResume(ctx) })
	l := watchloop.Loop[event]{
		Name:     "network monitor",
		Logger:   m.log,
		Open:     m.src.open,
		Snapshot: m.snapshot,
		Deliver:  m.deliver,
		Inject:   m.inject,
		Coalesce: m.opts.Coalesce,
		Resync:   m.opts.Resync,
	}
	return l.Run(ctx)
}

// send hands an event of a detector to the loop.
func (m *Monitor) send(ctx context.Context, e event) {
	select {
	case m.inject <- e:
	case <-ctx.Done():
	}
}

// watchClock reports a resume when the wall clock moved more than
// ClockJump beyond the check interval: the process did not run (sleep,
// SIGSTOP) or the clock was set.
func (m *Monitor) watchClock(ctx context.Context, prev time.Time) {
	every := m.opts.ClockCheckInterval
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := m.clock.Now().Round(0)
		gap := now.Sub(prev)
		prev = now
		if gap-every > m.opts.ClockJump || gap < -m.opts.ClockJump {
			m.send(ctx, event{kind: evResume, detail: "wall clock jumped " + gap.Round(time.Second).String()})
		}
	}
}

// snapshot reads the state; the first is the baseline, later ones (after a
// resubscription, an overflow, the periodic resync) report what differs.
func (m *Monitor) snapshot() error {
	st, err := m.src.state()
	if err != nil {
		return err
	}
	if !m.havePrev {
		m.prev, m.havePrev = st, true
		v := m.view(st)
		m.log.Debug("network state", "default_v4", v.def[0], "default_v6", v.def[1], "addresses", len(v.addrs), "links", len(v.links))
		return nil
	}
	m.compare(st, nil)
	return nil
}

// deliver handles a coalesced burst of events.
func (m *Monitor) deliver(evs []event) {
	st, err := m.src.state()
	if err != nil {
		m.log.Warn("netmon: read network state", "err", err)
		st = m.prev
	}
	m.compare(st, evs)
}

// compare reports the difference between the last state and st, plus the
// resume events among evs.
func (m *Monitor) compare(st state, evs []event) {
	var c Change
	var details []string
	for _, e := range evs {
		switch e.kind {
		case evResume:
			c.Resumed = true
			details = append(details, e.detail)
		case evSleep:
			m.log.Info("netmon: system going to sleep")
			c.Sleeping = true
			details = append(details, "going to sleep")
		}
	}
	if m.havePrev {
		d := diff(m.view(m.prev), m.view(st))
		c.DefaultRoute, c.Address, c.Link = d.DefaultRoute, d.Address, d.Link
		if d.Detail != "" {
			details = append(details, d.Detail)
		}
	}
	m.prev, m.havePrev = st, true
	if !c.DefaultRoute && !c.Address && !c.Link && !c.Resumed && !c.Sleeping {
		return
	}
	c.Detail = joinDetails(details)
	m.emit(c)
}

// emit records c and queues it; a full queue merges its oldest change into c.
func (m *Monitor) emit(c Change) {
	c.Time = m.clock.Now()
	m.log.Info("network change", "default_route", c.DefaultRoute, "address", c.Address, "link", c.Link, "resumed", c.Resumed, "sleeping", c.Sleeping, "detail", c.Detail)
	m.mu.Lock()
	m.recent = append(m.recent, c)
	if over := len(m.recent) - m.opts.Recent; over > 0 {
		m.recent = append(m.recent[:0:0], m.recent[over:]...)
	}
	m.mu.Unlock()
	for {
		select {
		case m.changes <- c:
			return
		default:
		}
		select {
		case old := <-m.changes:
			c = merge(old, c)
		default:
		}
	}
}

func merge(old, c Change) Change {
	c.DefaultRoute = c.DefaultRoute || old.DefaultRoute
	c.Address = c.Address || old.Address
	c.Link = c.Link || old.Link
	c.Resumed = c.Resumed || old.Resumed
	c.Sleeping = c.Sleeping || old.Sleeping
	c.Detail = joinDetails([]string{old.Detail, c.Detail})
	return c
}
