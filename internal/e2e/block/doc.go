// Package block is the end-to-end suite of block_when_down: a real `cvpn
// server` and real `cvpn connect --block-when-down` processes in network
// namespaces, with the client's nftables ruleset listed through netlink.
package block
