package profile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity tells whether a Diagnostic makes a profile unusable.
type Severity int

const (
	// SeverityError marks a problem that makes the profile unusable.
	SeverityError Severity = iota
	// SeverityWarning marks a harmless problem: the directive is ignored or
	// a default is assumed.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalJSON encodes the severity as "error" or "warning".
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON decodes "error" or "warning".
func (s *Severity) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q", v)
	}
	return nil
}

// Diagnostic is one problem found in a profile.
type Diagnostic struct {
	// File is the profile name given to the parser (not part of the JSON
	// form; the JSON check result carries it once).
	File string `json:"-"`
	// Line is the 1-based line the problem is on. Problems with the profile
	// as a whole (a missing CA, no remote) are reported on the last line.
	Line     int      `json:"line"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats the diagnostic as "FILE:LINE: error|warning: message".
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", d.File, d.Line, d.Severity, d.Message)
}

// Diagnostics is the list of problems found in one profile, in line order.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns only the error diagnostics.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// String formats every diagnostic, one per line, each ending in a newline.
func (ds Diagnostics) String() string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Err returns nil when there is no error diagnostic, otherwise an error
// listing the error diagnostics.
func (ds Diagnostics) Err() error {
	errs := ds.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &ProfileError{Diagnostics: errs}
}

// ProfileError is returned by functions that need a usable profile.
type ProfileError struct {
	Diagnostics Diagnostics
}

func (e *ProfileError) Error() string {
	return strings.TrimSuffix(e.Diagnostics.String(), "\n")
}

// CheckResult is the JSON document printed by "cvpn profile check --json".
type CheckResult struct {
	// File is the profile path as given on the command line.
	File string `json:"file"`
	// Usable is true when there is no error diagnostic.
	Usable bool `json:"usable"`
	// Diagnostics lists errors and warnings in line order (never null).
	Diagnostics []Diagnostic `json:"diagnostics"`
}

// NewCheckResult builds the check result for a profile.
func NewCheckResult(file string, ds Diagnostics) CheckResult {
	list := []Diagnostic(ds)
	if list == nil {
		list = []Diagnostic{}
	}
	return CheckResult{File: file, Usable: !ds.HasErrors(), Diagnostics: list}
}
