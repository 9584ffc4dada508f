// Package hostile holds tests that attack the reference server
// (ovpn/server) the way a hostile client or a hostile local user would:
// over UDP, garbage datagrams, spoofed hard-reset floods, stalled TLS
// handshakes, oversize key-method-2 messages and junk floods beside a real
// session; over TCP (tcp_*_test.go), garbage streams, connection floods
// and stalls, idle connections, oversize key-method-2 messages and a
// client that stops reading beside one that reads; and
// a soak of many concurrent sessions with churn (short form always, long
// form with CVPN_SOAK=10m). The server runs in process on 127.0.0.x with
// a counting device instead of TUN, so no root is needed except for the
// local-attacker tests, which skip without it.
package hostile
