package authz

import (
	"net/netip"
	"sort"
)

// Rule authorizes a group (or all users when Group is empty) to reach
// Destination.
type Rule struct {
	Destination netip.Prefix
	Group       string
}

// Table is an immutable rule set, safe for concurrent use.
type Table struct {
	// byDest groups rules by destination, longest prefix first.
	byDest []dest
}

type dest struct {
	prefix   netip.Prefix
	allUsers bool
	groups   map[string]bool
}

// New builds a table from rules in any order.
func New(rules []Rule) *Table {
	idx := map[netip.Prefix]*dest{}
	var order []netip.Prefix
	for _, r := range rules {
		p := r.Destination.Masked()
		d := idx[p]
		if d == nil {
			d = &dest{prefix: p, groups: map[string]bool{}}
			idx[p] = d
			order = append(order, p)
		}
		if r.Group == "" {
			d.allUsers = true
		} else {
			d.groups[r.Group] = true
		}
	}
	t := &Table{}
	for _, p := range order {
		t.byDest = append(t.byDest, *idx[p])
	}
	sort.SliceStable(t.byDest, func(i, j int) bool { return t.byDest[i].prefix.Bits() > t.byDest[j].prefix.Bits() })
	return t
}

// Decision is the outcome for one destination.
type Decision struct {
	Allowed bool
	// Rule is the destination of the deciding rule; invalid when no rule
	// matched.
	Rule netip.Prefix
}

// Check decides whether a user with groups may reach dst.
func (t *Table) Check(dst netip.Addr, groups []string) Decision {
	for i := range t.byDest {
		d := &t.byDest[i]
		if !d.prefix.Contains(dst) {
			continue
		}
		if d.allUsers {
			return Decision{Allowed: true, Rule: d.prefix}
		}
		for _, g := range groups {
			if d.groups[g] {
				return Decision{Allowed: true, Rule: d.prefix}
			}
		}
		return Decision{Allowed: false, Rule: d.prefix}
	}
	return Decision{}
}

// Allowed is Check(dst, groups).Allowed.
func (t *Table) Allowed(dst netip.Addr, groups []string) bool {
	return t.Check(dst, groups).Allowed
}

// Len returns the number of distinct destinations.
func (t *Table) Len() int { return len(t.byDest) }
