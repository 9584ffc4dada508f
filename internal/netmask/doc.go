// Package netmask converts netmasks written as addresses (255.255.255.0,
// as OpenVPN profiles, pushed options and the macOS routing socket carry
// them) to prefix lengths. It is a leaf: the profile parser, the push
// parser and the platform code all import it.
package netmask
