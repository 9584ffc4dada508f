// Package km2 encodes and decodes OpenVPN key method 2 messages, the first
// application data both peers send inside the TLS session, in the standard
// framing and in the AWS Client VPN framing (u32 lengths, total length
// prefix) used for SAML credentials. It also builds the peer_info block and
// the OCC options string a 2.6 peer sends.
package km2
