package nstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// NSState is a snapshot of a namespace's network configuration as text:
// links, addresses, IPv4 and IPv6 routes of every table, and resolv.conf.
type NSState struct {
	NS       string
	Sections []Section
}

// Section is one captured command output or file.
// (`ip -d route show table all` without -4 lists IPv6 routes too, hence -4.)
type Section struct {
	Name string // e.g. "ip -d link"
	Text string
}

var snapshotCommands = [][]string{
	{"ip", "-d", "link"},
	{"ip", "-d", "addr"},
	{"ip", "-4", "-d", "route", "show", "table", "all"},
	{"ip", "-6", "-d", "route", "show", "table", "all"},
}

// Snapshot captures the state of ns.
func Snapshot(ctx context.Context, ns string) (NSState, error) {
	st := NSState{NS: ns}
	for _, argv := range snapshotCommands {
		out, err := Run(ctx, "", append([]string{argv[0], "-n", ns}, argv[1:]...)...)
		if err != nil {
			return st, err
		}
		st.Sections = append(st.Sections, Section{Name: strings.Join(argv, " "), Text: dropTransientErrors(out)})
	}
	text := "(missing)\n"
	b, err := os.ReadFile(ResolvConfPath(ns))
	switch {
	case err == nil:
		text = string(b)
	case !errors.Is(err, os.ErrNotExist):
		return st, fmt.Errorf("nstest: snapshot %s: %w", ns, err)
	}
	st.Sections = append(st.Sections, Section{Name: ResolvConfPath(ns), Text: text})
	return st, nil
}

// dropTransientErrors removes diagnostics `ip` prints into its listing when
// another namespace is created or deleted at the same moment (for example
// "Error: Peer netns reference is invalid." while a concurrent test tears
// its lab down); they describe the other namespace, not this one.
func dropTransientErrors(out string) string {
	if !strings.Contains(out, "Error: ") {
		return out
	}
	var keep []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "Error: Peer netns reference is invalid.") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "")
}

// MustSnapshot is Snapshot that fails the test on error.
func MustSnapshot(t testing.TB, ns string) NSState {
	t.Helper()
	s, err := Snapshot(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// AssertUnchanged takes a new snapshot of before.NS and reports a test
// error with a line diff when it differs from before.
func AssertUnchanged(t testing.TB, before NSState) {
	t.Helper()
	after := MustSnapshot(t, before.NS)
	if d := before.Diff(after); d != "" {
		t.Errorf("namespace %s changed (- before, + after):\n%s", before.NS, d)
	}
}

// Diff returns "" when both snapshots are equal, else a per-section line
// diff ("-" lines only in s, "+" lines only in other).
func (s NSState) Diff(other NSState) string {
	var b strings.Builder
	n := max(len(s.Sections), len(other.Sections))
	for i := range n {
		var x, y Section
		if i < len(s.Sections) {
			x = s.Sections[i]
		}
		if i < len(other.Sections) {
			y = other.Sections[i]
		}
		if x == y {
			continue
		}
		name := x.Name
		if name == "" {
			name = y.Name
		}
		fmt.Fprintf(&b, "=== %s\n%s", name, lineDiff(x.Text, y.Text))
	}
	return b.String()
}

// lineDiff is a longest-common-subsequence line diff; unchanged lines are
// printed with two leading spaces for context.
func lineDiff(a, b string) string {
	x := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i++
			j++
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j++
		default:
			out.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return out.String()
}
