// Package routeopt is the one grammar of OpenVPN's "route" and
// "route-ipv6" options and the Route type they produce. The profile parser
// (lines a user wrote) and the push parser (options a server sent) both
// use it, so a route means the same thing and fails with the same message
// wherever it comes from.
package routeopt
