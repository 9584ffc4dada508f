// Package transport carries whole OpenVPN packets between two peers over UDP
// (one packet per datagram) or TCP (each packet prefixed by its 2-byte
// big-endian length), and resolves a profile's remote into the addresses to
// try, including the random host label of remote-random-hostname.
package transport
