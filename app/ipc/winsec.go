package ipc

import (
	"fmt"
	"strings"
	"time"
)

// Pure parts of the Windows named-pipe transport (transport_windows.go):
// the pipe's security descriptor and the decisions taken on SIDs. They have
// no build tag so that they are tested on every OS.

// Well-known Windows SIDs.
const (
	// SIDLocalSystem is NT AUTHORITY\SYSTEM, the account services run as.
	SIDLocalSystem = "S-1-5-18"
	// SIDAdministrators is BUILTIN\Administrators.
	SIDAdministrators = "S-1-5-32-544"
)

// Windows access rights used in the pipe's DACL.
const (
	fileReadData        = 0x0001
	fileWriteData       = 0x0002
	fileCreatePipeInst  = 0x0004 // FILE_CREATE_PIPE_INSTANCE (= FILE_APPEND_DATA)
	fileReadEA          = 0x0008
	fileWriteEA         = 0x0010
	fileReadAttributes  = 0x0080
	fileWriteAttributes = 0x0100
	readControl         = 0x00020000
	synchronize         = 0x00100000

	// pipeClientRights is what authenticated users get: FILE_GENERIC_READ
	// and FILE_GENERIC_WRITE without FILE_CREATE_PIPE_INSTANCE, so they can
	// connect and talk but cannot create a server instance of the pipe
	// (which would let them answer other users' connections).
	pipeClientRights = fileReadData | fileWriteData | fileReadEA | fileWriteEA |
		fileReadAttributes | fileWriteAttributes | readControl | synchronize
)

// Token group attributes (TOKEN_GROUPS).
const (
	seGroupEnabled        = 0x00000004
	seGroupUseForDenyOnly = 0x00000010
)

// sddlACE is one access control entry of an SDDL DACL.
type sddlACE struct {
	Deny   bool
	Rights string // SDDL rights: "GA", or a hex mask such as "0x12019b"
	SID    string // SDDL SID alias ("SY", "BA", "AU", "NU") or S-1-... string
}

// buildSDDL renders a protected security descriptor in SDDL.
func buildSDDL(owner, group string, aces []sddlACE) string {
	var b strings.Builder
	fmt.Fprintf(&b, "O:%sG:%sD:P", owner, group)
	for _, a := range aces {
		typ := "A"
		if a.Deny {
			typ = "D"
		}
		fmt.Fprintf(&b, "(%s;;%s;;;%s)", typ, a.Rights, a.SID)
	}
	return b.String()
}

// PipeSDDL is the security descriptor of the daemon's named pipe. Owner
// BUILTIN\Administrators (a LocalSystem service and an elevated
// administrator may both set it; front ends refuse a pipe owned by anyone
// else, see trustedPipeOwner); network logons are denied; SYSTEM and
// Administrators have full access; authenticated local users may connect
// and read/write (pipeClientRights) — each request is then authorized by
// the caller's identity (Peer), exactly like the unix socket.
func PipeSDDL() string {
	return buildSDDL("BA", "SY", []sddlACE{
		{Deny: true, Rights: "GA", SID: "NU"},
		{Rights: "GA", SID: "SY"},
		{Rights: "GA", SID: "BA"},
		{Rights: fmt.Sprintf("0x%x", pipeClientRights), SID: "AU"},
	})
}

// trustedPipeOwner reports whether a pipe owned by sid may be the cvpn
// daemon: only SYSTEM and the Administrators group can own it. Any user can
// create a pipe named \\.\pipe\cvpn before the daemon starts; such a
// squatter's pipe is owned by that user and front ends must not talk to it
// (they would hand it VPN passwords).
func trustedPipeOwner(sid string) bool {
	return sid == SIDLocalSystem || sid == SIDAdministrators
}

// tokenGroup is one entry of a token's TOKEN_GROUPS.
type tokenGroup struct {
	SID        string
	Attributes uint32
}

// tokenIsAdmin decides whether a token (its user SID and groups) may
// administer every connection: LocalSystem, or a token where
// BUILTIN\Administrators is enabled. With UAC, a non-elevated
// administrator's token holds that group only for deny (not enabled), so
// only an elevated process counts, like sudo on unix.
func tokenIsAdmin(userSID string, groups []tokenGroup) bool {
	if userSID == SIDLocalSystem {
		return true
	}
	for _, g := range groups {
		if g.SID == SIDAdministrators {
			return g.Attributes&seGroupEnabled != 0 && g.Attributes&seGroupUseForDenyOnly == 0
		}
	}
	return false
}

// clientProcessPlausible reports whether the process found by the pipe
// client's process id can be the client: it must have been created before
// the connection was accepted. A later creation time means the client
// exited and its process id was reused by another process, whose identity
// must not be used.
func clientProcessPlausible(created, accepted time.Time) bool {
	return !created.After(accepted)
}
