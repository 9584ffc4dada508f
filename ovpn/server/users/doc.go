// Package users is the reference server's user directory, the stand-in for
// the Active Directory behind an AWS Client VPN endpoint: a TOML file of
// users with bcrypt password hashes, groups and an optional TOTP secret
// (RFC 6238) for multi-factor authentication through the static challenge
// (password "SCRV1:<base64 password>:<base64 code>").
//
// File format:
//
//	[[user]]
//	name = "alice"
//	password_bcrypt = "$2a$10$..."
//	groups = ["engineering"]
//	totp_secret = "JBSWY3DPEHPK3PXP"   # optional, base32
package users
