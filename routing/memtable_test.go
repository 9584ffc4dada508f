package routing

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
)

// memTable is an in-memory RouteTable that behaves like the Linux main
// table: Delete needs the exact route, Add refuses a second route with the
// same destination, table and metric, and lookup does longest-prefix match
// with the metric as tie-breaker.
type memTable struct {
	mu     sync.Mutex
	routes []Route
	// deleteErr and addErr, when set, decide a failure per route.
	deleteErr func(Route) error
	addErr    func(Route) error
	listErr   error
	deletes   int
	adds      int
}

var errNoRoute = errors.New("no such process")

func newMemTable(routes ...Route) *memTable {
	t := &memTable{}
	for _, r := range routes {
		t.routes = append(t.routes, r.Clone())
	}
	return t
}

func (t *memTable) List() ([]Route, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.listErr != nil {
		return nil, t.listErr
	}
	out := make([]Route, len(t.routes))
	for i, r := range t.routes {
		out[i] = r.Clone()
	}
	return out, nil
}

func (t *memTable) Delete(r Route) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.deleteErr != nil {
		if err := t.deleteErr(r); err != nil {
			return err
		}
	}
	i := slices.IndexFunc(t.routes, r.Equal)
	if i < 0 {
		return fmt.Errorf("delete %s: %w", r, errNoRoute)
	}
	t.routes = slices.Delete(t.routes, i, i+1)
	t.deletes++
	return nil
}

func (t *memTable) Add(r Route) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.addErr != nil {
		if err := t.addErr(r); err != nil {
			return err
		}
	}
	if err := t.addLocked(r); err != nil {
		return err
	}
	t.adds++
	return nil
}

func (t *memTable) addLocked(r Route) error {
	for _, o := range t.routes {
		if o.Dst == r.Dst && o.Table == r.Table && o.Metric == r.Metric {
			return fmt.Errorf("add %s: file exists", r)
		}
	}
	t.routes = append(t.routes, r.Clone())
	return nil
}

// inject adds a route as a third party (DHCP, network manager) would.
func (t *memTable) inject(r Route) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addLocked(r)
}

func (t *memTable) snapshot() []Route {
	rs, _ := t.List()
	return rs
}

// lookup returns the main-table route that wins for a: longest prefix, then
// lowest metric.
func (t *memTable) lookup(a netip.Addr) (Route, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best Route
	found := false
	for _, r := range t.routes {
		if !r.InMainTable() || !forwards(r.Type) || !Canonical(r.Dst).Contains(a) {
			continue
		}
		if !found || r.Dst.Bits() > best.Dst.Bits() ||
			(r.Dst.Bits() == best.Dst.Bits() && r.Metric < best.Metric) {
			best, found = r, true
		}
	}
	return best, found
}

// sameRoutes reports whether a and b hold the same routes, ignoring order.
func sameRoutes(a, b []Route) bool {
	if len(a) != len(b) {
		return false
	}
	used := make([]bool, len(b))
	for _, r := range a {
		ok := false
		for i, o := range b {
			if !used[i] && r.Equal(o) {
				used[i], ok = true, true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
