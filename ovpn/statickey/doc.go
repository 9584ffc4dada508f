// Package statickey reads, writes and generates OpenVPN static keys, the
// 2048-bit keys of tls-auth and tls-crypt in the text layout
// `openvpn --genkey secret` writes. It is the one static-key parser of cvpn:
// the profile parser (client side) and the reference server both use it.
package statickey
