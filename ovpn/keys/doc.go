// Package keys derives OpenVPN data channel key material.
//
// It implements the TLS 1.0 PRF used by OpenVPN's classic key expansion
// ("OpenVPN master secret" / "OpenVPN key expansion"), the RFC 5705 keying
// material exporter method ("EXPORTER-OpenVPN-datakeys"), and the 256-byte
// KeyBlock with accessors that pick the right slot for a direction and role.
package keys
