package wire

import "fmt"

// Role says which end of the OpenVPN session we are. It picks the
// tls-crypt key direction, the hard-reset opcodes and the halves of the
// data-channel key block.
type Role int

const (
	// RoleClient is the TLS client (the one that sends pre_master).
	RoleClient Role = iota
	// RoleServer is the TLS server.
	RoleServer
)

func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleServer:
		return "server"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}
