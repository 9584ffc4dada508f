package gui

import (
	"fmt"
	"testing"
	"time"
)

func TestExplain(t *testing.T) {
	for _, c := range []struct{ msg, title string }{
		{"listen tcp 127.0.0.1:35001: bind: address already in use", "Port 35001 is busy"},
		{"server sent AUTH_FAILED", "Sign-in failed"},
		{"dial udp vpn.example.com:443: i/o timeout", "Cannot reach the VPN server"},
		{"lookup vpn.example.com: no such host", "Cannot reach the VPN server"},
		{"routes 10.0.0.0/8 overlap connection office", "This connection clashes with another one"},
		{"something odd", "Something went wrong"},
	} {
		if got := Explain(c.msg, false).Title; got != c.title {
			t.Errorf("%q: %q, want %q", c.msg, got, c.title)
		}
	}
	if p := ExplainError(fmt.Errorf("dial: %w", ErrDaemonNotRunning)); p.Title != "The cvpn service is not running" {
		t.Errorf("daemon down: %q", p.Title)
	}
}

func TestFormat(t *testing.T) {
	if FormatBytes(999) != "999 B" || FormatBytes(1_520_000) != "1.5 MB" || FormatBytes(3_000_000_000_000_000) != "3000.0 TB" {
		t.Error(FormatBytes(999), FormatBytes(1_520_000), FormatBytes(3_000_000_000_000_000))
	}
	if FormatDuration(42*time.Second) != "42s" || FormatDuration(125*time.Second) != "2m 05s" || FormatDuration(2*time.Hour+5*time.Minute) != "2h 05m" {
		t.Error("durations")
	}
}
