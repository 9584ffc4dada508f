// Package routesock describes the messages of the macOS (Darwin) routing
// socket (AF_ROUTE) and converts them to and from routing.Route.
//
// The conversion (FromRoute, ToRoute, GetRequest, HopFromReply) works on
// the Message type and is pure Go, so it builds and is tested on every OS.
// On macOS, Marshal and Parse encode and decode the wire format with
// golang.org/x/net/route; package platform uses them to write RTM_ADD,
// RTM_DELETE and RTM_GET requests, to decode the table dump of sysctl
// NET_RT_DUMP and the route events read from the socket.
//
// Kept here rather than taken from the library, and why:
//   - rtm_errno: x/net/route reads it at the offset of rtm_use on macOS
//     (golang/go#70593, open), so valid routes look failed and failed
//     requests look valid; Parse reads it from the header itself.
//   - AF_LINK addresses written: the library's LinkAddr is 8 bytes plus
//     name and link address, shorter than struct sockaddr_dl; Marshal
//     writes the 20-byte form route(8) sends (linkSockaddr).
//   - The KAME scope of link-local IPv6 addresses written: the library
//     puts the zone in sin6_scope_id only; the kernel reads it from
//     bytes 2 and 3 of the address, as route(8) writes it.
//   - The flag, type and address constants: the conversion runs and is
//     tested on every OS, while x/net/route and x/sys/unix's RTF_* exist
//     only when building for a BSD.
//
// Byte order is the host's; every macOS machine (amd64 and arm64) is
// little-endian.
package routesock
