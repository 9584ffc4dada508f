// Package icmpecho builds and parses IPv4 ICMP echo packets: the client's
// reachability probe after a network change and the test servers' echo
// replies use the same one.
package icmpecho
