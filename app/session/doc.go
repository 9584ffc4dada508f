// Package session runs one VPN connection in this (privileged) process: it
// cleans up what a crashed predecessor left behind, opens the OS network
// stack, and drives an ovpn/client session with the platform configurator,
// so that `cvpn connect` in the foreground and the daemon share one wiring.
//
// It also wires client route enforcement: once the tunnel is configured,
// StartEnforcement builds the routing.Policy from what was applied (VPN
// routes and redirect-gateway halves; net_gateway routes and the server's
// host routes exempt), runs a routing.Enforcer fed by the platform's route
// watcher, and reports every removal and restore as a route-enforced event.
// Enforcement is on when the endpoint pushes the switch, when the caller
// forces it (--enforce-routes) or when the system policy file says
// client_route_enforcement = "force". Removed routes are journaled in the
// state directory (routes-<TunnelID>.json); Recover restores leftover
// journals before anything else at every start.
package session
