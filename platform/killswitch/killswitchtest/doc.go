// Package killswitchtest holds an in-memory killswitch.Firewall for tests
// of the packages that hold blocks (app/session, cmd/cvpn).
package killswitchtest
