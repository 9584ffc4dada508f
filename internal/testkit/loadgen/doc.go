// Package loadgen opens OpenVPN protocol sessions against a server without
// a TUN device: reset exchange, TLS with a client certificate, key method
// 2 and PUSH_REQUEST/PUSH_REPLY, then the session idles (answering nothing
// but control-channel ACKs). It measures handshakes per second and the
// memory of many idle sessions on the reference server.
package loadgen
