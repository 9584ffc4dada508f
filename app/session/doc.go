// Package session runs one VPN connection in this (privileged) process: it
// cleans up what a crashed predecessor left behind, opens the OS network
// stack, and drives an ovpn/client session with the platform configurator,
// so that `cvpn connect` in the foreground and the daemon share one wiring.
package session
