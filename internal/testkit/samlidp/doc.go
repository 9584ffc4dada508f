// Package samlidp runs a small SAML 2.0 identity provider on loopback for
// tests and `make demo`: crewjam/saml's samlidp with a real HTML login form
// (user and password), users with groups sent as the memberOf attribute,
// FirstName/LastName attributes, NameID in email format, signed responses
// and assertions (RSA-SHA256, a fresh self-signed key per start), and its
// metadata at /metadata.
//
// It is configured for the AWS Client VPN service provider (audience
// urn:amazon:webservices:clientvpn, ACS http://127.0.0.1:35001) unless
// Options say otherwise. Respond builds a signed response without a
// browser, with hooks that let tests forge broken variants.
package samlidp
