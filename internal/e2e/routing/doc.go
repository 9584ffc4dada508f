// Package routing holds the end-to-end tests and the measurements of client
// route enforcement on Linux: the built cvpn binary connects to Debian's
// OpenVPN 2.6 inside an nstest network-namespace lab, and the tests watch
// what happens to the client namespace's main routing table (conflicts
// removed, exempt and less specific routes kept, everything restored
// byte-for-byte after a disconnect and after kill -9). The benchmarks
// measure the reaction time of the enforcer to a conflicting route and the
// CPU cost of watching a large table under churn.
//
// The package has no non-test code besides this comment.
package routing
