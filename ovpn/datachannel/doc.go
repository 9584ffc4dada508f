// Package datachannel encrypts and decrypts OpenVPN 2.6 data channel
// packets (P_DATA_V1 and P_DATA_V2).
//
// It supports the AEAD ciphers AES-128-GCM, AES-256-GCM and
// CHACHA20-POLY1305 and the legacy AES-CBC + HMAC construction, enforces the
// receive replay window (64 packets plus a 15 s time backtrack), refuses to
// wrap the outbound packet_id, and keeps up to three key_ids alive during a
// renegotiation. It also holds the keepalive ping and OCC exit magic and the
// compression framing bytes ("comp-lzo no", "compress stub", "stub-v2").
//
// Cipher state is created once per key; Seal and Open append to a caller
// buffer and allocate nothing per packet.
package datachannel
