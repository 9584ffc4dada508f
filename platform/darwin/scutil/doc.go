// Package scutil writes the command scripts cvpn feeds to macOS's scutil(8)
// to change DNS in the SystemConfiguration dynamic store, and parses what
// `scutil` prints for `show <key>`.
//
// DNS on macOS is a dictionary per network service under
// State:/Network/Service/<id>/DNS with ServerAddresses, SearchDomains and,
// for split DNS, SupplementalMatchDomains (the domains that go to these
// servers). The default resolver comes from the primary service, named by
// PrimaryService in State:/Network/Global/IPv4.
//
// The package is pure Go and runs no command, so it is tested on any OS;
// package platform runs /usr/sbin/scutil on macOS.
package scutil
