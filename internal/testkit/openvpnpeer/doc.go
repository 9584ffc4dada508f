// Package openvpnpeer runs Debian's OpenVPN 2.6 (/usr/sbin/openvpn) or
// OpenVPN 2.7 from a Debian sid chroot (Version V27; the chroot is made by
// .ci/sid-chroot.sh, `make deps-openvpn27`, or on first use by EnsureSid)
// as a server or a client inside an nstest lab namespace, configured from Go
// structs, so that end-to-end tests can pit cvpn against the reference
// implementation. It is test support: import it only from tests, benchmarks
// and demo tooling.
//
// A Server writes its configuration, PKI files, credentials-checking script
// and static keys into its own directory (t.TempDir for StartServer), starts
// openvpn with `ip netns exec`, waits until it reports "Initialization
// Sequence Completed", and is stopped by PID in t.Cleanup; its log is attached
// to a failing test. Server.ClientProfile renders a self-contained .ovpn
// (inline <ca>, <cert>, <key>, <tls-auth>/<tls-crypt>) that matches the
// server, for cvpn and for the OpenVPN client runner alike.
//
// # Key derivation (PRF vs EKM)
//
// OpenVPN 2.6 has no option that makes a server use the TLS 1.0 PRF when
// the client can do RFC 5705 keying material export (EKM): the server uses
// EKM exactly when the client's IV_PROTO peer-info has bit 3 (value 8) set,
// and the 2.6 client always sets it (Debian's 2.6.14 client sends
// IV_PROTO=990). The server announces it in the push reply, as
// "protocol-flags cc-exit tls-ekm dyn-tls-crypt" to clients that set IV_PROTO
// bit 7, else as "key-derivation tls-ekm". --compat-mode does not change
// this. To exercise PRF against this
// server, the client under test must leave IV_PROTO bit 3 unset; against an
// OpenVPN 2.6 client, the server under test must not push key-derivation.
// The server's --force-tls-key-material-export (ServerConfig.ForceEKM) makes
// it reject clients without EKM instead.
//
// # Static challenge
//
// OpenVPN 2.6 reads a static-challenge response from the console, which
// tests cannot drive. The client runner therefore sends what such a client
// would send: the password "SCRV1:base64(password):base64(response)", and
// drops the profile's static-challenge line. The server's verify script
// accepts a user with a ChallengeResponse only in that form.
package openvpnpeer
