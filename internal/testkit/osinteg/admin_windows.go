package osinteg

import "golang.org/x/sys/windows"

const adminName = "an elevated Administrator"

func isAdmin() bool { return windows.GetCurrentProcessToken().IsElevated() }
