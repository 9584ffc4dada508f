package ipc

import "context"

// TypeDiagnostics asks the daemon for what it knows that a support bundle
// should hold (cvpn diagnose, the GUI's "Save diagnostics").
const TypeDiagnostics = "diagnostics"

// Diagnostics is the daemon's part of a support bundle: files whose text
// the daemon has already redacted. A user gets only their own connections'
// logs, events and state; an administrator gets everything.
type Diagnostics struct {
	// Admin is true when the caller got everything.
	Admin bool `json:"admin"`
	// Files are bundle-relative names ("daemon/logs/lab-2026-12-07.log")
	// and their text.
	Files []DiagFile `json:"files"`
	// Notes say what was left out and why.
	Notes []string `json:"notes,omitempty"`
}

// DiagFile is one file of Diagnostics.
type DiagFile struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// DiagnosticsHandler is implemented by a Handler that can answer
// TypeDiagnostics (the daemon's Manager).
type DiagnosticsHandler interface {
	Diagnostics(peer Peer) Diagnostics
}

// Diagnostics asks the daemon for its part of a support bundle.
func (c *Client) Diagnostics(ctx context.Context) (*Diagnostics, error) {
	r, err := c.call(ctx, &Message{Type: TypeDiagnostics})
	if err != nil {
		return nil, err
	}
	if r.Diagnostics == nil {
		return &Diagnostics{}, nil
	}
	return r.Diagnostics, nil
}
