// Package policy is the administrator's policy file (policy.toml): how it
// is found (--policy, $CVPN_POLICY, the OS default path), its keys, and
// their checks. The daemon, root `cvpn connect`, the CLI and the GUI read
// it through this package only.
package policy
