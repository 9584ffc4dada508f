// Package routesock encodes and decodes the messages of the macOS (Darwin)
// routing socket (AF_ROUTE): the rt_msghdr header of <net/route.h>
// followed by its socket addresses, and converts them to and from
// routing.Route.
//
// It is pure Go with no system calls, so it builds and is tested on every
// OS; package platform uses it on macOS to write RTM_ADD, RTM_DELETE and
// RTM_GET requests to an AF_ROUTE socket, to decode the table dump of
// sysctl NET_RT_DUMP and to decode the route events read from the socket.
//
// Byte order is the host's; every macOS machine (amd64 and arm64) is
// little-endian, which is what this package writes and reads.
package routesock
