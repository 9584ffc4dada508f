package client

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

type fakeAlert string

func (a fakeAlert) Error() string { return "tls: " + string(a) }

func TestExplainTLSAlert(t *testing.T) {
	remote := func(a string) error {
		return fmt.Errorf("tcp 198.18.0.2:1194: reading the server's key exchange: %w", &net.OpError{Op: "remote error", Err: fakeAlert(a)})
	}
	for _, tc := range []struct{ alert, want string }{
		{"certificate required", "requires a client certificate it trusts"},
		{"bad certificate", "refused the client certificate"},
		{"certificate revoked", "refused the client certificate"},
		{"protocol version not supported", "no TLS version"},
		{"internal error", "ended the TLS handshake with an alert"},
	} {
		err := explainTLSAlert(remote(tc.alert))
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "remote error: tls: "+tc.alert) {
			t.Errorf("%s: %v", tc.alert, err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) {
			t.Errorf("%s: the alert is no longer in the chain", tc.alert)
		}
		if again := explainTLSAlert(err); again != err {
			t.Errorf("explained twice: %v", again)
		}
	}
	plain := errors.New("dial: connection refused")
	if explainTLSAlert(plain) != plain {
		t.Error("a non-alert error was changed")
	}
}
