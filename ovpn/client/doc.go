// Package client runs an OpenVPN client session: it resolves and dials the
// profile's remotes in order, runs the control channel, TLS and key method 2,
// asks for the pushed configuration, derives the data channel keys, hands
// the tunnel configuration to the platform, moves packets between the TUN
// device and the server, keeps the link alive, renegotiates keys, and
// reconnects by itself after a dead peer or a network loss, reusing the
// pushed auth-token so the user is not asked again.
package client
