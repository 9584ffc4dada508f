// Package authz evaluates the endpoint's authorization rules on the data
// path the way AWS Client VPN does: the matching rule with the longest
// destination prefix decides (a 0.0.0.0/0 rule therefore only applies when
// nothing more specific matches), and among rules with that same
// destination, one for all users or for one of the user's groups allows.
// Destinations no rule matches are denied.
package authz
