// Package labpki generates a small, self-contained public key infrastructure
// for labs and tests: a certificate authority, an OpenVPN server certificate,
// client certificates, a certificate revocation list and OpenVPN static keys
// (for tls-auth and tls-crypt).
//
// It is production code: `cvpn server init` uses it to write a lab PKI, and
// the end-to-end tests use it to configure OpenVPN 2.6 peers. Everything is
// built with crypto/x509; the clock and, where the standard library honours
// it, the random source are injected so tests can make expired certificates
// and stale CRLs on purpose.
//
// Key files are written atomically with mode 0600, certificates and CRLs with
// 0644.
package labpki
