package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// RouteTable is the OS side of enforcement, implemented by the platform
// package. List returns the routes of the main table of both families, with
// every attribute needed to re-add them. Delete removes exactly the given
// route; Add installs it again with all its attributes. The methods are
// called with the Enforcer's lock held, so they must not call back into the
// Enforcer (deliver watcher events from another goroutine).
type RouteTable interface {
	List() ([]Route, error)
	Delete(Route) error
	Add(Route) error
}

// EventName is the name of the event enforcement emits ("route-enforced").
const EventName = "route-enforced"

// Actions carried by an Event.
const (
	ActionRemoved  = "removed"
	ActionRestored = "restored"
)

// Event reports one action of enforcement on the OS table.
type Event struct {
	Time time.Time `json:"time"`
	// Action is ActionRemoved or ActionRestored.
	Action string `json:"action"`
	Route  Route  `json:"route"`
	// VPN is the VPN prefix the route conflicted with.
	VPN netip.Prefix `json:"vpn_prefix"`
}

// ChangeKind says what a Change reports.
type ChangeKind int

const (
	// ChangeResync says the table changed in a way the watcher cannot
	// describe (or it lost events): the engine re-lists the table.
	ChangeResync ChangeKind = iota
	// ChangeAdded reports a route that appeared (or was replaced).
	ChangeAdded
	// ChangeDeleted reports a route that went away.
	ChangeDeleted
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeResync:
		return "resync"
	case ChangeAdded:
		return "added"
	case ChangeDeleted:
		return "deleted"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one notification from the platform's route watcher (the
// platform delivers its route updates in this form).
type Change struct {
	Kind  ChangeKind
	Route Route
}

// Config configures an Enforcer.
type Config struct {
	Policy Policy
	Table  RouteTable
	// JournalPath is the journal file of this session.
	JournalPath string
	// Logger receives progress and failures; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnEvent receives every removal and restore; nil drops them. It is
	// called without the Enforcer's lock held, so it may call back into it,
	// and must not block for long.
	OnEvent func(Event)
}

type enforcerState int

const (
	stateNew enforcerState = iota
	stateRunning
	stateStopped
)

// Enforcer removes routes that conflict with the VPN while a session is up
// and restores them when it ends. It starts no goroutine: the caller feeds it
// route changes through Handle (or Run) and calls Stop at disconnect. All
// methods are safe for concurrent use.
//
// Every removal is journaled before the route is deleted, and an entry is
// dropped from the journal only after its route is back, so a crash at any
// point loses nothing: Recover (or the next Start on the same journal)
// restores what is left.
type Enforcer struct {
	mu      sync.Mutex
	policy  Policy
	table   RouteTable
	journal *Journal
	log     *slog.Logger
	now     func() time.Time
	onEvent func(Event)
	state   enforcerState
	pending []Event
}

// NewEnforcer checks cfg and opens (without yet acting on) the journal.
func NewEnforcer(cfg Config) (*Enforcer, error) {
	if cfg.Table == nil {
		return nil, errors.New("routing: enforcer: no route table given")
	}
	if cfg.Policy.Enabled && cfg.Policy.Tunnel.IsZero() {
		return nil, errors.New("routing: enforcer: enforcement is on but the tunnel interface is unknown")
	}
	j, err := OpenJournal(cfg.JournalPath)
	if err != nil {
		return nil, err
	}
	e := &Enforcer{
		policy:  cfg.Policy,
		table:   cfg.Table,
		journal: j,
		log:     cfg.Logger,
		now:     cfg.Now,
		onEvent: cfg.OnEvent,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

// Start first restores any route a previous run left in the journal (a
// crash), then, when enforcement is enabled, removes every conflicting
// route of the current table.
//
// Start fails without starting only when called twice or after Stop. Any
// other error reports routes it could not restore or remove; the Enforcer
// is running all the same (so the caller logs the error, carries on, and
// calls Stop at the end). A leftover that cannot be restored stays in the
// journal and is retried by Stop.
func (e *Enforcer) Start(ctx context.Context) error {
	e.mu.Lock()
	var err error
	switch e.state {
	case stateRunning:
		err = errors.New("routing: enforcer: already started")
	case stateStopped:
		err = errors.New("routing: enforcer: already stopped")
	default:
		err = e.start(ctx)
	}
	ev := e.takeEvents()
	e.mu.Unlock()
	e.deliver(ev)
	return err
}

func (e *Enforcer) start(ctx context.Context) error {
	var errs []error
	if e.journal.Len() > 0 {
		e.log.Warn("restoring routes left in the journal by an earlier run",
			"journal", e.journal.Path(), "routes", e.journal.Len())
		if _, err := e.restoreAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("routing: enforcer: restore leftovers: %w", err))
		}
	}
	e.state = stateRunning
	if !e.policy.Enabled {
		e.log.Info("client route enforcement is off")
		return errors.Join(errs...)
	}
	e.log.Info("client route enforcement on", "vpn_prefixes", e.policy.VPN.Len(),
		"exempt_prefixes", e.policy.Exempt.Len(), "tunnel", e.policy.Tunnel.Name)
	if err := e.resync(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Resync re-lists the table and removes every conflicting route.
func (e *Enforcer) Resync(ctx context.Context) error {
	e.mu.Lock()
	var err error
	if e.active() {
		err = e.resync(ctx)
	}
	ev := e.takeEvents()
	e.mu.Unlock()
	e.deliver(ev)
	return err
}

func (e *Enforcer) active() bool { return e.state == stateRunning && e.policy.Enabled }

func (e *Enforcer) resync(ctx context.Context) error {
	routes, err := e.table.List()
	if err != nil {
		return fmt.Errorf("routing: enforcer: list routes: %w", err)
	}
	return e.remove(ctx, e.policy.Conflicts(routes))
}

// Handle applies route changes reported by the platform's watcher. An added
// route that conflicts is removed (journaled once, however often it comes
// back); routes cvpn added itself (Protocol ProtoCVPN) and deletions need
// no action; a ChangeResync re-lists the table once
// for the whole batch. Before Start, after Stop, or with enforcement off,
// Handle does nothing, so the Enforcer's own restores never trigger it.
func (e *Enforcer) Handle(ctx context.Context, changes ...Change) error {
	e.mu.Lock()
	var err error
	if e.active() {
		err = e.handle(ctx, changes)
	}
	ev := e.takeEvents()
	e.mu.Unlock()
	e.deliver(ev)
	return err
}

func (e *Enforcer) handle(ctx context.Context, changes []Change) error {
	for _, c := range changes {
		if c.Kind == ChangeResync {
			return e.resync(ctx)
		}
	}
	var conflicts []Conflicting
	for _, c := range changes {
		if c.Kind != ChangeAdded || c.Route.Protocol == ProtoCVPN {
			continue
		}
		if slices.ContainsFunc(conflicts, func(o Conflicting) bool { return o.Route.Equal(c.Route) }) {
			continue // reported twice in one batch
		}
		if vpn, ok := e.policy.Conflict(c.Route); ok {
			e.log.Info("conflicting route appeared", "route", c.Route.String(), "vpn_prefix", vpn)
			conflicts = append(conflicts, Conflicting{Route: c.Route, VPN: vpn})
		}
	}
	return e.remove(ctx, conflicts)
}

// Run handles batches of changes from ch until ctx is done or ch is closed,
// in the caller's goroutine. Errors are logged, not returned: enforcement
// goes on after a route it could not remove.
func (e *Enforcer) Run(ctx context.Context, ch <-chan []Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case batch, ok := <-ch:
			if !ok {
				return
			}
			if err := e.Handle(ctx, batch...); err != nil {
				e.log.Error("route enforcement", "err", err)
			}
		}
	}
}

// remove journals the routes not yet journaled (one write) and then deletes
// them one by one. Entries written by this call for routes whose deletion
// failed are taken back afterwards, so the journal never claims a route was
// removed when it was not; a crash in between leaves entries for routes
// that are still in the table, which a restore skips.
func (e *Enforcer) remove(ctx context.Context, cs []Conflicting) error {
	if len(cs) == 0 {
		return nil
	}
	var fresh []JournalEntry
	isFresh := make([]bool, len(cs))
	for i, c := range cs {
		if !e.journal.Contains(c.Route) {
			isFresh[i] = true
			fresh = append(fresh, JournalEntry{Route: c.Route, RemovedAt: e.now().UTC(), ConflictsWith: c.VPN, Tunnel: e.policy.Tunnel.Name})
		}
	}
	if err := e.journal.AppendAll(fresh); err != nil {
		return fmt.Errorf("routing: not removing %d conflicting routes: %w", len(cs), err)
	}
	var (
		errs     []error
		rollback []Route
		// current is the table, listed once on the first failed deletion.
		current struct {
			routes []Route
			err    error
			loaded bool
		}
	)
	for i, c := range cs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			for j := i; j < len(cs); j++ {
				if isFresh[j] {
					rollback = append(rollback, cs[j].Route)
				}
			}
			break
		}
		if err := e.table.Delete(c.Route); err != nil {
			if isFresh[i] {
				rollback = append(rollback, c.Route)
			}
			if !current.loaded {
				current.routes, current.err = e.table.List()
				current.loaded = true
			}
			if current.err == nil && !slices.ContainsFunc(current.routes, c.Route.Equal) {
				// A stale event (the route is already gone): nothing to do.
				e.log.Debug("conflicting route already gone", "route", c.Route.String(), "err", err)
				continue
			}
			errs = append(errs, fmt.Errorf("routing: remove conflicting route %s (inside VPN prefix %s): %w", c.Route, c.VPN, err))
			continue
		}
		e.log.Info("removed conflicting route", "route", c.Route.String(), "vpn_prefix", c.VPN)
		e.pending = append(e.pending, Event{Time: e.now(), Action: ActionRemoved, Route: c.Route.Clone(), VPN: c.VPN})
	}
	if err := e.journal.RemoveAll(rollback); err != nil {
		e.log.Error("could not take back journal entries of routes that were not removed", "err", err)
	}
	return errors.Join(errs...)
}

// Stop ends enforcement and restores every journaled route in the order it
// was removed. A route identical to one already in the table is not added
// again. A route that cannot be restored stays in the journal (for Recover
// at the next start) and is reported in the returned error; the others are
// still restored. Stop may be called more than once; later calls retry what
// is left.
func (e *Enforcer) Stop(ctx context.Context) error {
	e.mu.Lock()
	e.state = stateStopped
	_, err := e.restoreAll(ctx)
	ev := e.takeEvents()
	e.mu.Unlock()
	e.deliver(ev)
	return err
}

// SetPolicy replaces the policy of a running enforcer when the VPN's
// routes change on a live session (PUSH_UPDATE): every journaled route is
// put back, then the routes that conflict with the new policy are removed
// again (journaled first, as always).
func (e *Enforcer) SetPolicy(ctx context.Context, p Policy) error {
	if p.Enabled && p.Tunnel.IsZero() {
		return errors.New("routing: enforcer: enforcement is on but the tunnel interface is unknown")
	}
	e.mu.Lock()
	var errs []error
	if e.state == stateRunning {
		if _, err := e.restoreAll(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	e.policy = p
	if e.active() {
		errs = append(errs, e.resync(ctx))
	}
	ev := e.takeEvents()
	e.mu.Unlock()
	e.deliver(ev)
	return errors.Join(errs...)
}

// Journaled returns the routes currently removed and not yet restored.
func (e *Enforcer) Journaled() []JournalEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.journal.Entries()
}

func (e *Enforcer) restoreAll(ctx context.Context) (int, error) {
	n, events, err := restoreJournal(ctx, e.journal, e.table, e.log, e.now)
	e.pending = append(e.pending, events...)
	return n, err
}

func (e *Enforcer) takeEvents() []Event {
	ev := e.pending
	e.pending = nil
	return ev
}

func (e *Enforcer) deliver(events []Event) {
	if e.onEvent == nil {
		return
	}
	for _, ev := range events {
		e.onEvent(ev)
	}
}

// Recover restores every route left in the journal at journalPath by a run
// that crashed or was killed, and returns how many it put back. Call it at
// start-up before anything else touches routes. A missing journal is
// nothing to do. Routes that cannot be restored stay in the journal and are
// reported in the error.
func Recover(ctx context.Context, journalPath string, table RouteTable, logger *slog.Logger) (int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	j, err := OpenJournal(journalPath)
	if err != nil {
		return 0, err
	}
	if j.Len() == 0 {
		return 0, nil
	}
	logger.Warn("restoring routes left in the journal by an earlier run", "journal", journalPath, "routes", j.Len())
	n, _, err := restoreJournal(ctx, j, table, logger, time.Now)
	return n, err
}

// restoreJournal puts back every journaled route in journal order and drops
// each entry once its route is in the table.
func restoreJournal(ctx context.Context, j *Journal, table RouteTable, log *slog.Logger, now func() time.Time) (int, []Event, error) {
	if j.Len() == 0 {
		return 0, nil, nil
	}
	current, err := table.List()
	if err != nil {
		return 0, nil, fmt.Errorf("routing: restore from journal %s: list routes: %w", j.Path(), err)
	}
	var (
		errs     []error
		events   []Event
		done     []Route
		restored int
	)
	for _, entry := range j.Entries() {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("routing: restore from journal %s: %w", j.Path(), err))
			break
		}
		r := entry.Route
		if slices.ContainsFunc(current, r.Equal) {
			log.Info("journaled route is already back in the table", "route", r.String())
			done = append(done, r)
			continue
		}
		if err := table.Add(r); err != nil {
			// Someone (DHCP, a network manager) may have put it back
			// between the listing and now.
			if again, lerr := table.List(); lerr == nil && slices.ContainsFunc(again, r.Equal) {
				log.Info("journaled route came back by itself", "route", r.String())
				current = again
				done = append(done, r)
				continue
			}
			log.Error("could not restore route; it stays in the journal", "route", r.String(),
				"journal", j.Path(), "err", err)
			errs = append(errs, fmt.Errorf("routing: restore route %s (journal %s): %w", r, j.Path(), err))
			continue
		}
		current = append(current, r)
		done = append(done, r)
		restored++
		log.Info("restored route", "route", r.String())
		events = append(events, Event{Time: now(), Action: ActionRestored, Route: r.Clone(), VPN: entry.ConflictsWith})
	}
	// Entries go only after their routes are back; a crash before this
	// write leaves entries whose routes are present, which the next
	// restore skips.
	if err := j.RemoveAll(done); err != nil {
		errs = append(errs, err)
	}
	return restored, events, errors.Join(errs...)
}
