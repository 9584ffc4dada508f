// Package osloop is the one-machine end-to-end test of macOS and Windows:
// the real client (app/session with the OS's tunnel device, routes and
// route lookups) against an in-process reference server over loopback.
package osloop
