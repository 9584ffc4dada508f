// Package routing holds the pure logic of client route enforcement: the
// route model, prefix sets, conflict detection between the VPN's routes and
// the device's main routing table, the enforcement engine that removes
// conflicting routes and restores them afterwards, and the crash-safe
// on-disk journal that makes the restore survive a crash or kill -9.
//
// The package makes no OS calls other than reading and writing its journal
// file. Listing, deleting and adding routes, and watching the table for
// changes, belong to the platform package, which the engine reaches through
// the small RouteTable interface.
//
// The conflict rule: a route of the main table that does not go through the
// tunnel conflicts when its destination lies inside (is equal to or more
// specific than) one of the VPN's prefixes, because it would win the
// longest-prefix match for some tunnel addresses. Routes inside an exempt
// prefix (the profile's net_gateway routes and the host routes to the VPN
// server) and routes inside the ignored networks (loopback, link-local,
// multicast, limited broadcast) never conflict, and neither do less specific
// routes such as the LAN default route.
package routing
