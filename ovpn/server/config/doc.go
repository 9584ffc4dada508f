// Package config loads and validates the reference server's TOML
// configuration (`cvpn server run --config FILE`) and writes a ready-to-run
// lab (`cvpn server init DIR`): a PKI, server.toml and client1.ovpn.
//
// Load decodes the file with github.com/BurntSushi/toml, refuses unknown
// keys, resolves relative paths against the file's folder and checks every
// value; each error names the file and the key that is wrong.
package config
