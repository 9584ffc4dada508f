// Package winroute converts between Windows routing table rows
// (MIB_IPFORWARD_ROW2, mirrored by Row so that the logic builds and is
// tested on every OS) and routing.Route, and holds the decisions the
// Windows backend makes from them: route types of the host's own and
// broadcast entries, the best route to a destination, the TUN interface
// name and the prefix of a point-to-point address.
//
// Windows has no settable route protocol that marks a program's routes,
// so routing.Route.Protocol carries the Windows protocol (NL_ROUTE_PROTOCOL)
// mapped into a byte (see ProtoFromWindows), and package platform marks the
// routes it added itself with ProtoCVPN by remembering them.
package winroute
