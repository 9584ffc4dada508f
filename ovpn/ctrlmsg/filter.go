package ctrlmsg

import (
	"fmt"
	"strings"
)

// FilterAction is what a pull-filter rule does with a matching option.
type FilterAction int

// Pull-filter actions.
const (
	FilterAccept FilterAction = iota
	FilterIgnore
	FilterReject
)

func (a FilterAction) String() string {
	switch a {
	case FilterAccept:
		return "accept"
	case FilterIgnore:
		return "ignore"
	case FilterReject:
		return "reject"
	}
	return fmt.Sprintf("FilterAction(%d)", int(a))
}

// PullFilter is one "pull-filter accept|ignore|reject TEXT" rule: it
// matches options that start with Prefix.
type PullFilter struct {
	Action FilterAction
	Prefix string
}

// ParsePullFilter builds a rule from the profile words.
func ParsePullFilter(action, prefix string) (PullFilter, error) {
	for _, a := range []FilterAction{FilterAccept, FilterIgnore, FilterReject} {
		if action == a.String() {
			return PullFilter{Action: a, Prefix: prefix}, nil
		}
	}
	return PullFilter{}, fmt.Errorf("pull-filter: unknown action %q (want accept, ignore or reject)", action)
}

// ApplyPullFilters runs the rules over pushed options in order; the first
// matching rule decides, and options no rule matches are accepted. It
// returns the kept and the ignored options, or an error naming the first
// option a reject rule matched.
func ApplyPullFilters(options []string, rules []PullFilter) (kept, ignored []string, err error) {
	for _, o := range options {
		t := strings.TrimLeft(o, " \t")
		action := FilterAccept
		for _, r := range rules {
			if strings.HasPrefix(t, r.Prefix) {
				action = r.Action
				break
			}
		}
		switch action {
		case FilterAccept:
			kept = append(kept, o)
		case FilterIgnore:
			ignored = append(ignored, o)
		case FilterReject:
			name := t
			if strings.HasPrefix(t, "auth-token") {
				name = "auth-token"
			}
			return nil, nil, fmt.Errorf("pushed option %q rejected by pull-filter reject %q", name, r0(rules, t))
		}
	}
	return kept, ignored, nil
}

func r0(rules []PullFilter, t string) string {
	for _, r := range rules {
		if strings.HasPrefix(t, r.Prefix) {
			return r.Prefix
		}
	}
	return ""
}
