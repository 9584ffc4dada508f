// Package signin is the client side of a federated (SAML) sign-in as a
// VPN session needs it: it starts the 127.0.0.1:35001 listener, opens the
// IdP URL in the desktop user's browser (or only reports it with
// --no-browser), and waits for the IdP's POST. It implements the
// ovpn/client Federation interface.
package signin
