// Package wire encodes and decodes the OpenVPN control-channel packet
// formats that travel in the clear (or inside a tls-auth / tls-crypt
// wrapper, see package tlswrap): the opcode/key-id byte, session ids,
// control packets with their ACK lists and packet ids, and the 2-byte
// length framing used on TCP.
//
// Decoders never panic on hostile input and name the field that is wrong.
// Encoders are append-style so hot paths can reuse buffers.
package wire
