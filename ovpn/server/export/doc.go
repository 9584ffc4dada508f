// Package export renders the client profile (.ovpn) of a reference server
// endpoint, shaped like an AWS Client VPN export: inline CA, the auth lines
// of the configured authentication (client certificate blocks for mutual
// auth, auth-user-pass, static-challenge for users with MFA, auth-federate
// for SAML), remote-random-hostname only when the public address is a DNS
// name, reneg-sec 0 and verify-x509-name of the server certificate.
package export
