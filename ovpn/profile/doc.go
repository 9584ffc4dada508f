// Package profile reads OpenVPN client profiles (.ovpn files) as exported by
// AWS Client VPN and written by IT departments, checks them, and turns them
// into a typed model of everything a connection needs: remotes, transport,
// authentication mode, parsed CA and client certificates, tls-auth and
// tls-crypt keys, ciphers, routes, DHCP options, timers and the like.
//
// Parsing works on bytes with a name for diagnostics and a base directory
// for relative file references, so the daemon (which receives profile text
// over IPC) and the reference server (which generates profiles) use the same
// code as the CLI. Problems are reported as Diagnostics in the form
// "FILE:LINE: error|warning: message"; a profile with no error is usable.
//
// Serialize writes a self-contained copy of a parsed profile with every
// referenced file inlined, which is what the profile store keeps.
package profile
