// Package dnsopt is the one grammar of OpenVPN's `dns` option (OpenVPN 2.6
// and 2.7: `dns server N address|resolve-domains|dnssec|transport|sni ...`
// and `dns search-domains ...`), shared by the profile parser, the pushed
// option parser and the reference server's push builder.
package dnsopt
