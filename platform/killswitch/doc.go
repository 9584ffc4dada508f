// Package killswitch blocks traffic that would leave outside the VPN tunnel
// while it is down (block_when_down). [Rules] say what may still leave; their
// [Rules.Plan] is one ordered, OS-neutral rule list that each backend
// translates: nftables through netlink on Linux (one table of cvpn's own,
// "inet cvpn"), a pf anchor on macOS, WFP filters on Windows. A [Record] in
// the state directory remembers an installed block so that a later start
// restores or removes it exactly, also after kill -9. On Windows the
// package also holds block-outside-dns's WFP filters ([WFPDNSFilters]).
package killswitch
