package ctrlmsg

import (
	"strings"
	"testing"
)

func TestRedactHidesCredentials(t *testing.T) {
	for _, msg := range []string{
		"AUTH_FAILED,CRV1:R:state:dXNlcg==:secret",
		"PUSH_REPLY,auth-token secret,route 10.0.0.0",
		"CR_RESPONSE:secret",
	} {
		got := Redact(msg)
		if strings.Contains(got, "secret") || strings.Contains(got, "state") {
			t.Errorf("Redact(%q) = %q leaks", msg, got)
		}
	}
	long := strings.Repeat("X", 200)
	if got := Redact(long); len(got) > 64+len("…") || !strings.HasPrefix(got, "XXXX") {
		t.Errorf("Redact of 200 bytes = %d bytes %q", len(got), got)
	}
	if got := Redact("RESTART"); got != "RESTART" {
		t.Errorf("Redact(RESTART) = %q", got)
	}
}
