// Package daemon is the connection manager of the privileged cvpn daemon:
// it runs up to MaxConnections sessions (app/session) at once on behalf of
// local users who ask through app/ipc, refuses connections whose routes
// overlap an open session's or that would share the machine with a
// full-tunnel session, gives DNS to one session only, decides who may
// disconnect what (Authorizer), writes one redacted, rotated log file per
// connection, and cleans up after a crashed predecessor at start (Recover).
//
// Manager implements ipc.Handler.
package daemon
