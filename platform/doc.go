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
// implementation for the running OS (netlink on Linux; darwin and windows are
// not supported yet and return a clear error). Package platform/fake holds an
// in-memory System for tests of other packages.
//
// Routes that cvpn adds itself carry the Linux route protocol [ProtoCVPN]
// (0x9c), so a route watcher can tell them from routes other programs add.
// The watcher reports every change in the main table, ours included; callers
// compare or filter on Protocol.
package platform
