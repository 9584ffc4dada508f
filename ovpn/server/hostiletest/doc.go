// Package hostiletest holds tests that attack the reference server
// (ovpn/server) the way a hostile client or a hostile local user would:
// garbage datagrams, spoofed hard-reset floods, stalled TLS handshakes,
// oversize key-method-2 messages, junk floods beside a real session, and
// a soak of many concurrent sessions with churn (short form always, long
// form with CVPN_SOAK=10m). The server runs in process on 127.0.0.x with
// a counting device instead of TUN, so no root is needed except for the
// local-attacker tests, which skip without it.
package hostiletest
