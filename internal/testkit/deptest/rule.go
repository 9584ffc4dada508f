package deptest

import (
	"fmt"
	"strings"
	"testing"
)

// Rule says what some packages may not depend on (directly or through
// other packages). Paths are module-relative ("ovpn/client") unless their
// first element has a dot ("github.com/vishvananda/netlink"); a path
// covers the packages below it too.
type Rule struct {
	// Why is the reason, printed with every violation.
	Why string
	// Pkgs are the module's packages the rule is about: "x/y" is one
	// package, "x/y/..." it and everything below.
	Pkgs []string
	// Skip exempts packages matched by Pkgs (for example harnesses that
	// live beside product code); nil exempts none.
	Skip func(importPath string) bool
	// Forbid lists what the packages may not depend on.
	Forbid []string
	// Only, when set, lists the only packages of the module the packages
	// may depend on (besides themselves, the standard library and third
	// party modules): a package of the module outside every Only path is a
	// violation.
	Only []string
}

// Violation is one forbidden dependency of one package.
type Violation struct {
	Platform Platform
	Pkg, Dep string
	// Chain is the import chain from Pkg to Dep.
	Chain []string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s depends on %s: %s", v.Platform, v.Pkg, v.Dep, strings.Join(v.Chain, " -> "))
}

// rootsOf returns the module's packages the rule applies to.
func (g *Graph) rootsOf(r Rule) []string {
	var out []string
	for _, p := range g.roots {
		if r.Skip != nil && r.Skip(p) {
			continue
		}
		for _, pat := range r.Pkgs {
			if g.matchPattern(p, pat) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Violations returns the rule's violations in g, one per package and
// forbidden dependency found first, and how many packages it checked.
func (g *Graph) Violations(r Rule) (vs []Violation, checked int) {
	forbid := make([]string, len(r.Forbid))
	for i, f := range r.Forbid {
		forbid[i] = g.full(f)
	}
	only := make([]string, len(r.Only))
	for i, o := range r.Only {
		only[i] = g.full(o)
	}
	roots := g.rootsOf(r)
	for _, root := range roots {
		bad := func(p string) bool {
			for _, f := range forbid {
				if under(p, f) {
					return true
				}
			}
			if r.Only == nil || !under(p, g.Module) || under(p, root) {
				return false
			}
			for _, o := range only {
				if under(p, o) {
					return false
				}
			}
			return true
		}
		// One violation per package: the nearest one. Once it is fixed the
		// next run shows the next.
		if c := g.chain(root, bad); c != nil {
			vs = append(vs, Violation{Platform: g.Platform, Pkg: root, Dep: c[len(c)-1], Chain: c})
		}
	}
	return vs, len(roots)
}

// Check loads the module at dir for every platform and reports each
// violation of each rule as a test error naming the rule's reason and the
// import chain. A rule that matches no package on any platform, or that
// forbids a package of the module that does not exist, is an error too:
// the rule has gone stale after a rename.
func Check(t testing.TB, dir string, platforms []Platform, rules []Rule) {
	t.Helper()
	graphs := make([]*Graph, 0, len(platforms))
	for _, p := range platforms {
		g, err := Load(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		graphs = append(graphs, g)
	}
	for i, r := range rules {
		checked, exists := 0, map[string]bool{}
		var lines []string
		for _, g := range graphs {
			vs, n := g.Violations(r)
			checked += n
			for _, v := range vs {
				lines = append(lines, v.String())
			}
			for _, f := range append(append([]string(nil), r.Forbid...), r.Only...) {
				if g.has(f) {
					exists[f] = true
				}
			}
		}
		if len(lines) > 0 {
			t.Errorf("rule %d: %s\n\t%s", i+1, r.Why, strings.Join(lines, "\n\t"))
		}
		if checked == 0 {
			t.Errorf("rule %d (%s): its packages %v match no package; update the rule", i+1, r.Why, r.Pkgs)
		}
		for _, f := range append(append([]string(nil), r.Forbid...), r.Only...) {
			if !exists[f] {
				t.Errorf("rule %d (%s): %s is in no platform's graph; update the rule", i+1, r.Why, f)
			}
		}
	}
}
