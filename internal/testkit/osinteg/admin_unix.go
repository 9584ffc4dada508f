//go:build !windows

package osinteg

import "os"

const adminName = "root"

func isAdmin() bool { return os.Geteuid() == 0 }
