// Package platform is cvpn's boundary to the operating system network stack:
// it creates the TUN device, assigns addresses and MTU, lists, adds, deletes
// and watches routes, finds the original gateway, and configures DNS.
//
// The high-level entry point is [Apply]: it takes a [TunnelConfig] (what the
// VPN session negotiated), changes the OS step by step while recording every
// change outside the TUN device in a crash-safe state file, and returns an
// [Applied] handle whose Close undoes everything in reverse order. After a
// crash or kill -9, [Recover] reads the state files of a state directory and
// undoes what they record.
//
// The OS is reached through the small [System] interface. [Open] returns the
// implementation for the running OS: netlink on Linux; on macOS utun, the
// routing socket (package platform/routesock), address ioctls and scutil
// for DNS; on Windows Wintun (wintun.dll beside the executable), winipcfg
// and NRPT rules for DNS. Other systems get a clear error. Package
// platform/platformtest holds an in-memory System for tests of other packages.
//
// Routes that cvpn adds itself carry the Linux route protocol [ProtoCVPN]
// (0x9c), so a route watcher can tell them from routes other programs add.
// On macOS the mark is the RTF_PROTO1 route flag; Windows has no such mark,
// so the Windows host reports the routes it added itself with ProtoCVPN.
// The watcher reports every change in the main table, ours included; callers
// compare or filter on Protocol.
package platform
