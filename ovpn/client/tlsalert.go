package client

import (
	"errors"
	"net"
	"strings"
)

// tlsAlertError explains a TLS alert the server sent (a refused
// certificate, no common TLS version) in the user's terms; the alert
// itself stays in the message.
type tlsAlertError struct {
	why string
	err error
}

func (e *tlsAlertError) Error() string { return e.why + ": " + e.err.Error() }
func (e *tlsAlertError) Unwrap() error { return e.err }

// explainTLSAlert wraps err when it carries a TLS alert from the server
// (crypto/tls reports it as a net.OpError "remote error"); other errors
// are returned as they are.
func explainTLSAlert(err error) error {
	var oe *net.OpError
	if err == nil || !errors.As(err, &oe) || oe.Op != "remote error" {
		return err
	}
	var ta *tlsAlertError
	if errors.As(err, &ta) {
		return err
	}
	alert := oe.Err.Error()
	var why string
	switch {
	case strings.Contains(alert, "certificate required"):
		why = "the server requires a client certificate it trusts and got none: the profile's <cert>/<key> is missing or not signed by a CA the server accepts"
	case strings.Contains(alert, "certificate"), strings.Contains(alert, "unknown certificate authority"):
		why = "the server refused the client certificate (revoked, expired or from a CA it does not trust): check the profile's <cert>/<key> with the administrator"
	case strings.Contains(alert, "protocol version"), strings.Contains(alert, "insufficient security"), strings.Contains(alert, "handshake failure"):
		why = "the server and cvpn agree on no TLS version or cipher suite (check tls-version-min/tls-cipher on the server)"
	default:
		why = "the server ended the TLS handshake with an alert"
	}
	return &tlsAlertError{why: why, err: err}
}
