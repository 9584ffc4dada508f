// Package logmark is a test harness: a slog.Handler that records when a
// log line containing a given text was last written, so a test can time
// what the product did against the moment it logged an event (for example
// the SAML listener's "received a SAML response").
package logmark

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Mark is a slog.Handler that discards every record and remembers the
// time of the last one whose message contains its text. Its copies (slog
// hands them around) share one time.
type Mark struct {
	text  string
	state *state
}

type state struct {
	mu   sync.Mutex
	last time.Time
}

// New returns a Mark watching for messages that contain text.
func New(text string) Mark { return Mark{text: text, state: &state{}} }

// At is the time the text was last logged; zero if never.
func (m Mark) At() time.Time {
	m.state.mu.Lock()
	defer m.state.mu.Unlock()
	return m.state.last
}

func (m Mark) Enabled(context.Context, slog.Level) bool { return true }

func (m Mark) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, m.text) {
		m.state.mu.Lock()
		m.state.last = time.Now()
		m.state.mu.Unlock()
	}
	return nil
}

func (m Mark) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m Mark) WithGroup(string) slog.Handler      { return m }
