// Package handshake is the one OpenVPN key negotiation shared by the
// client, the server and the test harnesses: TLS over one key's control
// stream, the key-method-2 exchange (standard or AWS framing), the data
// channel key block (TLS exporter or the classic PRF) and the data key.
// What differs between peers (the client's options and credentials, the
// server's answer and authentication) stays with the caller.
package handshake
