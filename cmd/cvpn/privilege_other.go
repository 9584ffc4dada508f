//go:build !windows

package main

import "os"

// daemonPrivilegeError says why this process may not run the daemon, or
// "" when it may: it must run as root.
func daemonPrivilegeError() string {
	if os.Geteuid() != 0 {
		return "needs root (it creates tunnels, routes and DNS settings); start it with sudo or as a system service"
	}
	return ""
}
