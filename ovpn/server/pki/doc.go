// Package pki generates the public key infrastructure of a cvpn reference
// server: a certificate authority, an OpenVPN server certificate, client
// certificates, a certificate revocation list and OpenVPN static keys (for
// tls-auth and tls-crypt). `cvpn server init` writes a new lab with it and
// `cvpn server export-client-config` reads the server certificate back.
// The end-to-end tests use it too, with the test-only additions of
// internal/testkit/labpki.
//
// Everything is built with crypto/x509; the clock and, where the standard
// library honours it, the random source are injected so tests can make
// expired certificates and stale CRLs on purpose.
//
// Key files are written atomically with mode 0600, certificates and CRLs with
// 0644.
package pki
