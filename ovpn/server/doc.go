// Package server is cvpn's reference server: an endpoint that behaves like
// AWS Client VPN and speaks the OpenVPN 2.6 protocol to stock OpenVPN
// clients and to cvpn.
//
// Run listens on UDP or TCP. UDP hard resets are answered statelessly with
// an HMAC cookie as session id, so no per-client state exists before a
// client proves it saw our reply. Each session then runs the control
// channel (package control), a TLS server with client certificate and CRL
// checks, key method 2 in both framings, authentication (certificate,
// users file with optional TOTP, or any Authenticator such as a SAML
// implementation), the client connect handler, and pushes the tunnel
// configuration. The data path moves packets between the server's TUN device
// (the first address of client_cidr) and each client's data channel keys by
// destination address, applying the authorization rules.
//
// Connection log, Prometheus metrics and an admin socket (list and
// terminate connections) are optional side services of Run.
package server
