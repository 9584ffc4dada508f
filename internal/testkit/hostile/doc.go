// Package hostile is a malicious OpenVPN server for tests: it speaks the
// protocol in the server role (UDP, no tls-auth/tls-crypt, certificate
// authentication, AES-256-GCM, tls-ekm or the TLS PRF) with one client at
// a time, and misbehaves as a Scenario says: oversized or endless
// PUSH_REPLY continuations, pushed options that would run scripts or
// reroute the server's own address, and a renegotiation storm. After the
// client is connected, Probe sends ICMP echo requests through the tunnel
// as normal, replayed, reordered or wrong-key-id data packets and reports
// which ones the client answered, which shows what its replay window and
// key handling let through.
//
// It has no TUN device: it answers ICMP echo requests addressed to its own
// tunnel address (ServerTunnelIP) itself, so a client can ping it.
//
// Server owns its goroutines; Close stops them and waits for them.
package hostile
