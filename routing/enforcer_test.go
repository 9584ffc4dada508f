package routing

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is a LAN + tunnel table with a split-tunnel VPN of 172.31.0.0/16
// and fd00:31::/32, and a net_gateway exemption for 172.31.200.0/24.
type fixture struct {
	table    *memTable
	original []Route
	policy   Policy
	journal  string
	events   *eventLog
}

type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.Action+" "+e.Route.Dst.String())
	}
	return out
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	routes := []Route{
		lan("0.0.0.0/0", "192.168.1.1"),
		lan("192.168.1.0/24", ""),
		lan("172.31.1.0/24", "192.168.1.1"),   // conflicts
		lan("172.31.200.0/24", "192.168.1.1"), // net_gateway, exempt
		lan("172.31.5.0/24", ""),              // conflicts, on-link
		lan("172.0.0.0/8", "192.168.1.1"),     // less specific
		lan("fd00:31:1::/64", ""),             // conflicts
		lan("::/0", "fe80::1"),
		lan("fe80::/64", ""),
		tun("172.31.0.0/16"),
		tun("fd00:31::/32"),
		tun("10.100.0.0/22"),
	}
	p, err := NewPolicy(PolicyInput{
		EndpointEnforces: true,
		VPNRoutes:        []netip.Prefix{pfx("172.31.0.0/16"), pfx("fd00:31::/32")},
		NetGatewayRoutes: []netip.Prefix{pfx("172.31.200.0/24")},
		ServerAddrs:      []netip.Addr{addr("203.0.113.10")},
		Tunnel:           Tunnel{Name: "tun0", Index: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		table:    newMemTable(routes...),
		original: routes,
		policy:   p,
		journal:  filepath.Join(t.TempDir(), "cvpn", "routes-lab.json"),
		events:   &eventLog{},
	}
}

func (f *fixture) enforcer(t *testing.T) *Enforcer {
	t.Helper()
	e, err := NewEnforcer(Config{
		Policy: f.policy, Table: f.table, JournalPath: f.journal,
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     func() time.Time { return time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC) },
		OnEvent: f.events.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (f *fixture) has(dst string) bool {
	for _, r := range f.table.snapshot() {
		if r.Dst == pfx(dst) {
			return true
		}
	}
	return false
}

func (f *fixture) journalLen(t *testing.T) int {
	t.Helper()
	j, err := OpenJournal(f.journal)
	if err != nil {
		t.Fatal(err)
	}
	return j.Len()
}

func (f *fixture) wantOriginal(t *testing.T) {
	t.Helper()
	if got := f.table.snapshot(); !sameRoutes(got, f.original) {
		t.Fatalf("table not restored exactly:\n got %v\nwant %v", got, f.original)
	}
}

func TestEnforcerStartStop(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"172.31.1.0/24", "172.31.5.0/24", "fd00:31:1::/64"} {
		if f.has(gone) {
			t.Errorf("conflicting %s still in the table", gone)
		}
	}
	for _, kept := range []string{"0.0.0.0/0", "192.168.1.0/24", "172.31.200.0/24", "172.0.0.0/8", "::/0", "fe80::/64", "172.31.0.0/16"} {
		if !f.has(kept) {
			t.Errorf("%s was removed", kept)
		}
	}
	if n := f.journalLen(t); n != 3 {
		t.Errorf("journal holds %d entries, want 3", n)
	}
	entries := e.Journaled()
	if entries[0].ConflictsWith != pfx("172.31.0.0/16") || entries[0].Tunnel != "tun0" || entries[0].RemovedAt.IsZero() {
		t.Errorf("journal entry lacks why/when: %+v", entries[0])
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
	if _, err := os.Stat(f.journal); !os.IsNotExist(err) {
		t.Errorf("journal file left after a clean stop (stat err %v)", err)
	}
	want := "removed 172.31.5.0/24,removed fd00:31:1::/64,removed 172.31.1.0/24," +
		"restored 172.31.5.0/24,restored fd00:31:1::/64,restored 172.31.1.0/24"
	if got := strings.Join(f.events.list(), ","); got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := e.Start(t.Context()); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestEnforcerReaddedRouteRemovedAgainJournaledOnce(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	dhcp := lan("172.31.1.0/24", "192.168.1.1")
	for i := range 3 {
		if err := f.table.inject(dhcp); err != nil {
			t.Fatal(err)
		}
		if err := e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: dhcp}); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if f.has("172.31.1.0/24") {
			t.Fatalf("round %d: re-added route not removed", i)
		}
		if n := f.journalLen(t); n != 3 {
			t.Fatalf("round %d: journal holds %d entries, want 3 (no duplicate)", i, n)
		}
	}
	// The same prefix with another metric is another route: journaled too.
	other := dhcp
	other.Metric = 50
	if err := f.table.inject(other); err != nil {
		t.Fatal(err)
	}
	if err := e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: other}); err != nil {
		t.Fatal(err)
	}
	if n := f.journalLen(t); n != 4 {
		t.Fatalf("journal holds %d entries, want 4", n)
	}
	adds := f.table.adds
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.table.adds-adds != 4 {
		t.Errorf("Stop made %d adds, want 4 (each journaled route once)", f.table.adds-adds)
	}
	// The original table plus the route that appeared during the session.
	if err := f.table.Delete(other); err != nil {
		t.Fatalf("the route added during the session was not restored: %v", err)
	}
	f.wantOriginal(t)
}

// A conflicting route cvpn added itself (Protocol ProtoCVPN, for example a
// host route to the VPN server) is reported by the watcher but left alone.
func TestEnforcerLeavesCVPNRoutes(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	n := f.journalLen(t)
	own := lan("172.31.9.0/24", "192.168.1.1")
	own.Protocol = ProtoCVPN
	if err := f.table.inject(own); err != nil {
		t.Fatal(err)
	}
	if err := e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: own}); err != nil {
		t.Fatal(err)
	}
	if !f.has("172.31.9.0/24") || f.journalLen(t) != n {
		t.Fatalf("cvpn's own route was removed (journal %d entries, was %d)", f.journalLen(t), n)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestEnforcerIgnoresOwnChanges(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	ctx := t.Context()
	// Before Start nothing happens.
	if err := e.Handle(ctx, Change{Kind: ChangeAdded, Route: lan("172.31.1.0/24", "192.168.1.1")}); err != nil {
		t.Fatal(err)
	}
	if f.table.deletes != 0 {
		t.Fatal("Handle acted before Start")
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deletes := f.table.deletes
	// The watcher reports our own deletions, and additions of tunnel,
	// exempt and harmless routes.
	changes := []Change{
		{Kind: ChangeDeleted, Route: lan("172.31.1.0/24", "192.168.1.1")},
		{Kind: ChangeDeleted, Route: lan("172.31.5.0/24", "")},
		{Kind: ChangeAdded, Route: tun("172.31.0.0/16")},
		{Kind: ChangeAdded, Route: tun("172.31.9.0/24")},
		{Kind: ChangeAdded, Route: lan("172.31.200.0/24", "192.168.1.1")},
		{Kind: ChangeAdded, Route: lan("192.168.2.0/24", "")},
	}
	if err := e.Handle(ctx, changes...); err != nil {
		t.Fatal(err)
	}
	if f.table.deletes != deletes {
		t.Error("Handle deleted routes on its own changes or harmless ones")
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The watcher now reports our restores: nothing may be removed again.
	var restored []Change
	for _, r := range f.original {
		restored = append(restored, Change{Kind: ChangeAdded, Route: r})
	}
	restored = append(restored, Change{Kind: ChangeResync})
	if err := e.Handle(ctx, restored...); err != nil {
		t.Fatal(err)
	}
	if err := e.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

func TestEnforcerResyncChange(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []Route{lan("172.31.77.0/24", ""), lan("fd00:31:2::/64", "fe80::1"), lan("10.9.0.0/16", "")} {
		if err := f.table.inject(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Handle(t.Context(), Change{Kind: ChangeDeleted}, Change{Kind: ChangeResync}); err != nil {
		t.Fatal(err)
	}
	if f.has("172.31.77.0/24") || f.has("fd00:31:2::/64") || !f.has("10.9.0.0/16") {
		t.Errorf("after resync the table is %v", f.table.snapshot())
	}
	if n := f.journalLen(t); n != 5 {
		t.Errorf("journal holds %d entries, want 5", n)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestEnforcerRunLoop(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ch := make(chan []Change, 2)
	r := lan("172.31.1.0/24", "192.168.1.1")
	if err := f.table.inject(r); err != nil {
		t.Fatal(err)
	}
	ch <- []Change{{Kind: ChangeAdded, Route: r}}
	close(ch)
	done := make(chan struct{})
	go func() { e.Run(t.Context(), ch); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the channel closed")
	}
	if f.has("172.31.1.0/24") {
		t.Error("Run did not remove the re-added route")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e.Run(ctx, make(chan []Change)) // returns at once on a cancelled context
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

func TestEnforcerDeleteFailure(t *testing.T) {
	f := newFixture(t)
	f.table.deleteErr = func(r Route) error {
		if r.Dst == pfx("172.31.1.0/24") {
			return errors.New("operation not permitted")
		}
		return nil
	}
	e := f.enforcer(t)
	err := e.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "172.31.1.0/24 via 192.168.1.1 dev eth0") || !strings.Contains(err.Error(), "operation not permitted") {
		t.Fatalf("Start error = %v, want the failed route named", err)
	}
	if f.has("172.31.5.0/24") || f.has("fd00:31:1::/64") {
		t.Error("one failure stopped the sweep")
	}
	for _, en := range e.Journaled() {
		if en.Route.Dst == pfx("172.31.1.0/24") {
			t.Error("a route that could not be deleted stays journaled")
		}
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

func TestEnforcerRestoreFailureKeepsEntry(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.table.addErr = func(r Route) error {
		if r.Dst == pfx("172.31.5.0/24") {
			return errors.New("network is unreachable")
		}
		return nil
	}
	err := e.Stop(t.Context())
	if err == nil || !strings.Contains(err.Error(), "172.31.5.0/24") || !strings.Contains(err.Error(), f.journal) {
		t.Fatalf("Stop error = %v, want the route and journal named", err)
	}
	if !f.has("172.31.1.0/24") || !f.has("fd00:31:1::/64") {
		t.Error("one failure stopped the restore")
	}
	if n := f.journalLen(t); n != 1 {
		t.Fatalf("journal holds %d entries, want the 1 that failed", n)
	}
	f.table.addErr = nil
	n, err := Recover(t.Context(), f.journal, f.table, nil)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 restored", n, err)
	}
	f.wantOriginal(t)
}

func TestEnforcerRestoreSkipsIdenticalRoute(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A network manager puts one back while the session ends.
	if err := f.table.inject(lan("172.31.1.0/24", "192.168.1.1")); err != nil {
		t.Fatal(err)
	}
	adds := f.table.adds
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.table.adds-adds != 2 {
		t.Errorf("Stop added %d routes, want 2", f.table.adds-adds)
	}
	f.wantOriginal(t)
	if f.journalLen(t) != 0 {
		t.Error("journal not empty")
	}
}

func TestEnforcerDisabled(t *testing.T) {
	f := newFixture(t)
	f.policy.Enabled = false
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: lan("172.31.1.0/24", "192.168.1.1")}, Change{Kind: ChangeResync}); err != nil {
		t.Fatal(err)
	}
	if f.table.deletes != 0 {
		t.Error("disabled enforcement removed routes")
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

func TestEnforcerCallbackMayCallBack(t *testing.T) {
	f := newFixture(t)
	var e *Enforcer
	var seen []int
	cfg := Config{Policy: f.policy, Table: f.table, JournalPath: f.journal,
		OnEvent: func(Event) { seen = append(seen, len(e.Journaled())) }}
	e, err := NewEnforcer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 6 || seen[0] != 3 || seen[5] != 0 {
		t.Errorf("journal sizes seen from the callback: %v", seen)
	}
}

func TestNewEnforcerChecks(t *testing.T) {
	if _, err := NewEnforcer(Config{JournalPath: filepath.Join(t.TempDir(), "j.json")}); err == nil {
		t.Error("accepted no table")
	}
	if _, err := NewEnforcer(Config{Table: newMemTable(), Policy: Policy{Enabled: true}, JournalPath: filepath.Join(t.TempDir(), "j.json")}); err == nil {
		t.Error("accepted an enabled policy without tunnel")
	}
	if _, err := NewEnforcer(Config{Table: newMemTable()}); err == nil {
		t.Error("accepted no journal path")
	}
}

func TestEnforcerListFailure(t *testing.T) {
	f := newFixture(t)
	f.table.listErr = errors.New("netlink: dump interrupted")
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "dump interrupted") {
		t.Fatalf("Start error = %v", err)
	}
	f.table.listErr = nil
	if err := e.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if f.has("172.31.1.0/24") {
		t.Error("Resync after a failed start did not enforce")
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

// crashPanic simulates the process dying inside an OS call.
type crashPanic struct{}

func crash(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crashPanic); !ok {
				panic(r)
			}
		}
	}()
	fn()
	t.Fatal("the simulated crash did not happen")
}

func TestCrashAfterRemovalThenRecover(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// kill -9: the Enforcer is dropped without Stop.
	e = nil
	_ = e
	if n := f.journalLen(t); n != 3 {
		t.Fatalf("journal holds %d entries, want 3", n)
	}
	n, err := Recover(t.Context(), f.journal, f.table, nil)
	if err != nil || n != 3 {
		t.Fatalf("Recover = %d, %v; want 3", n, err)
	}
	f.wantOriginal(t)
	if _, err := os.Stat(f.journal); !os.IsNotExist(err) {
		t.Error("journal left after recovery")
	}
	if n, err := Recover(t.Context(), f.journal, f.table, nil); err != nil || n != 0 {
		t.Errorf("second Recover = %d, %v; want nothing to do", n, err)
	}
}

func TestCrashBetweenJournalAndDelete(t *testing.T) {
	f := newFixture(t)
	f.table.deleteErr = func(r Route) error {
		if r.Dst == pfx("fd00:31:1::/64") {
			panic(crashPanic{})
		}
		return nil
	}
	e := f.enforcer(t)
	crash(t, func() { _ = e.Start(t.Context()) })
	// The journal holds all three conflicts (written in one go before any
	// deletion); only the first on-link one was deleted.
	if n := f.journalLen(t); n != 3 || !f.has("fd00:31:1::/64") || f.has("172.31.5.0/24") {
		t.Fatalf("state at crash: journal %d, table %v", n, f.table.snapshot())
	}
	f.table.deleteErr = nil
	adds := f.table.adds
	n, err := Recover(t.Context(), f.journal, f.table, nil)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want 1 (the others were never deleted)", n, err)
	}
	if f.table.adds-adds != 1 {
		t.Errorf("Recover added %d routes, want 1", f.table.adds-adds)
	}
	f.wantOriginal(t)
}

func TestCrashDuringStopThenRecover(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.table.addErr = func(r Route) error {
		if r.Dst == pfx("fd00:31:1::/64") {
			panic(crashPanic{})
		}
		return nil
	}
	crash(t, func() { _ = e.Stop(t.Context()) })
	// 172.31.5.0/24 is back, but entries only go once the restore is over.
	if n := f.journalLen(t); n != 3 || !f.has("172.31.5.0/24") {
		t.Fatalf("journal holds %d entries after the crash, want 3", n)
	}
	f.table.addErr = nil
	n, err := Recover(t.Context(), f.journal, f.table, nil)
	if err != nil || n != 2 {
		t.Fatalf("Recover = %d, %v; want 2", n, err)
	}
	f.wantOriginal(t)
}

func TestStartRestoresLeftoversFirst(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// crash; a new session of the same profile starts on the same journal
	f.events = &eventLog{}
	e2 := f.enforcer(t)
	if err := e2.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.events.list(), ",")
	want := "restored 172.31.5.0/24,restored fd00:31:1::/64,restored 172.31.1.0/24," +
		"removed 172.31.5.0/24,removed fd00:31:1::/64,removed 172.31.1.0/24"
	if got != want {
		t.Errorf("events:\n got %s\nwant %s", got, want)
	}
	if n := f.journalLen(t); n != 3 {
		t.Errorf("journal holds %d entries, want 3", n)
	}
	if err := e2.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

func TestEventFields(t *testing.T) {
	f := newFixture(t)
	var got []Event
	e, err := NewEnforcer(Config{Policy: f.policy, Table: f.table, JournalPath: f.journal,
		Now: func() time.Time { return time.Unix(1_800_000_000, 0) }, OnEvent: func(ev Event) { got = append(got, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev := got[len(got)-1]
	if ev.Action != ActionRemoved || !ev.Route.Equal(lan("172.31.1.0/24", "192.168.1.1")) ||
		ev.VPN != pfx("172.31.0.0/16") || !ev.Time.Equal(time.Unix(1_800_000_000, 0)) {
		t.Errorf("event = %+v", ev)
	}
	if EventName != "route-enforced" {
		t.Errorf("EventName = %q", EventName)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestJournalWrittenBeforeDelete(t *testing.T) {
	f := newFixture(t)
	checked := 0
	f.table.deleteErr = func(r Route) error {
		j, err := OpenJournal(f.journal)
		if err != nil {
			return err
		}
		if !j.Contains(r) {
			t.Errorf("route %s deleted before it was on disk in the journal", r)
		}
		checked++
		return nil
	}
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.table.addErr = func(r Route) error {
		j, err := OpenJournal(f.journal)
		if err != nil {
			return err
		}
		if !j.Contains(r) {
			t.Errorf("route %s dropped from the journal before it was restored", r)
		}
		checked++
		return nil
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if checked != 6 {
		t.Errorf("checked %d operations, want 6", checked)
	}
	f.wantOriginal(t)
}

func TestJournalFailurePreventsDeletion(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	// Something occupies the journal's directory path.
	if err := os.WriteFile(filepath.Dir(f.journal), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), f.journal) {
		t.Fatalf("Start error = %v, want one naming the journal", err)
	}
	if f.table.deletes != 0 {
		t.Error("routes deleted although the journal could not be written")
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

// TestPropertyCrashAnywhere kills the engine at a random OS call (delete
// during the sweep or the churn, or add during Stop) and checks that
// Recover brings back the original table, without adding any route twice.
func TestPropertyCrashAnywhere(t *testing.T) {
	rng := rand.New(rand.NewSource(99))
	for it := range 100 {
		s := randomScenario(rng)
		table := newMemTable(s.routes...)
		journal := filepath.Join(t.TempDir(), "j.json")
		e, err := NewEnforcer(Config{Policy: s.policy, Table: table, JournalPath: journal})
		if err != nil {
			t.Fatal(err)
		}
		calls, crashAt := 0, rng.Intn(12)
		die := func(Route) error {
			calls++
			if calls == crashAt {
				panic(crashPanic{})
			}
			return nil
		}
		table.deleteErr, table.addErr = die, die
		crashed := func() (c bool) {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(crashPanic); !ok {
						panic(r)
					}
					c = true
				}
			}()
			_ = e.Start(t.Context())
			for _, r := range s.routes {
				if table.inject(r) == nil {
					_ = e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: r})
				}
			}
			_ = e.Stop(t.Context())
			return false
		}()
		table.deleteErr, table.addErr = nil, nil
		if _, err := Recover(t.Context(), journal, table, nil); err != nil {
			t.Fatalf("iteration %d (crashed %v): Recover: %v", it, crashed, err)
		}
		if !sameRoutes(table.snapshot(), s.routes) {
			t.Fatalf("iteration %d (crash at call %d, crashed %v): table not restored\n got %v\nwant %v",
				it, crashAt, crashed, table.snapshot(), s.routes)
		}
	}
}

func TestEnforcerStaleAddedEvent(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Events queued before the sweep arrive after it: the routes are gone
	// already (journaled), or were added and removed by someone else.
	stale := []Change{
		{Kind: ChangeAdded, Route: lan("172.31.1.0/24", "192.168.1.1")},
		{Kind: ChangeAdded, Route: lan("172.31.99.0/24", "192.168.1.1")},
	}
	if err := e.Handle(t.Context(), stale...); err != nil {
		t.Fatalf("stale events gave an error: %v", err)
	}
	if n := len(e.Journaled()); n != 3 {
		t.Errorf("journal holds %d entries, want 3", n)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.wantOriginal(t)
}

func TestEnforcerConcurrentHandleAndStop(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := lan("172.31.1.0/24", "192.168.1.1")
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 300 {
			_ = f.table.inject(r)
			_ = e.Handle(t.Context(), Change{Kind: ChangeAdded, Route: r})
		}
	})
	time.Sleep(time.Millisecond)
	if err := e.Stop(t.Context()); err != nil {
		t.Error(err)
	}
	wg.Wait()
	f.wantOriginal(t)
	if _, err := os.Stat(f.journal); !os.IsNotExist(err) {
		t.Error("journal left after Stop")
	}
}

func TestEventJSON(t *testing.T) {
	ev := Event{Time: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), Action: ActionRemoved,
		Route: lan("172.31.1.0/24", "192.168.1.1"), VPN: pfx("172.31.0.0/16")}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-03T09:00:00Z","action":"removed","route":{"dst":"172.31.1.0/24","gateway":"192.168.1.1","interface":"eth0","ifindex":2,"metric":100,"table":254,"protocol":4,"type":1},"vpn_prefix":"172.31.0.0/16"}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
}

func TestEnforcerDuplicateChangesInOneBatch(t *testing.T) {
	f := newFixture(t)
	e := f.enforcer(t)
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := lan("172.31.42.0/24", "192.168.1.1")
	if err := f.table.inject(r); err != nil {
		t.Fatal(err)
	}
	add := Change{Kind: ChangeAdded, Route: r}
	if err := e.Handle(t.Context(), add, add, add); err != nil {
		t.Fatal(err)
	}
	if f.has("172.31.42.0/24") || len(e.Journaled()) != 4 {
		t.Fatalf("after a batch with one route three times: journal %d entries, table %v", len(e.Journaled()), f.table.snapshot())
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !f.has("172.31.42.0/24") {
		t.Error("route removed during the session was not restored")
	}
}
