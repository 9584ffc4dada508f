package logmark

import (
	"log/slog"
	"testing"
)

func TestMarkRecordsOnlyItsText(t *testing.T) {
	m := New("received a SAML response")
	log := slog.New(m).With("k", "v").WithGroup("g")
	log.Info("something else")
	if !m.At().IsZero() {
		t.Fatal("marked on an unrelated message")
	}
	log.Debug("saml listener: received a SAML response")
	if m.At().IsZero() {
		t.Fatal("not marked on a debug line containing the text (through With and WithGroup)")
	}
}
