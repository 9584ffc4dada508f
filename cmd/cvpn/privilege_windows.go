package main

import (
	"golang.org/x/sys/windows"
)

// daemonPrivilegeError says why this process may not run the daemon, or
// "" when it may: on Windows it must be LocalSystem or an elevated member
// of BUILTIN\Administrators.
func daemonPrivilegeError() string {
	tok := windows.GetCurrentProcessToken()
	if tok.IsElevated() {
		return ""
	}
	if u, err := tok.GetTokenUser(); err == nil && u.User.Sid.IsWellKnown(windows.WinLocalSystemSid) {
		return ""
	}
	return "needs Administrator rights (it creates tunnels, routes and DNS settings); run it from an elevated prompt or install it with `cvpn service install`"
}
