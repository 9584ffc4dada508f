// Package tlswrap adds and removes the optional protection OpenVPN puts
// around control-channel packets: nothing (None), an HMAC (tls-auth, TLSAuth)
// or authenticated encryption (tls-crypt, TLSCrypt).
//
// Wrap turns a plain control packet (the format of package wire) into the
// bytes sent on the link; Unwrap authenticates an incoming packet, enforces
// the replay window and returns the plain control packet. Each wrapper keeps
// its own outgoing replay packet id and incoming replay window; it is not
// safe for concurrent use.
package tlswrap
