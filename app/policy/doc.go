// Package policy is the administrator's policy: the file (policy.toml,
// found by --policy, $CVPN_POLICY or the OS default path) and the managed
// source an MDM or GPO writes (the Windows registry key
// HKLM\SOFTWARE\Policies\cvpn\cvpn, macOS managed preferences of
// io.github.cvpn), merged key by key with the managed source winning; its
// keys and their checks; and where each value came from. The daemon, root
// `cvpn connect`, the CLI and the GUI read it through this package only.
package policy
