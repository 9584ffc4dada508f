package ipc

import (
	"errors"
	"fmt"
	"runtime"
)

// NotRunningError: nothing listens on the daemon socket.
type NotRunningError struct {
	Path string
	Err  error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("the cvpn daemon is not running (nothing listens on %s); start it with %s", e.Path, StartCommand(runtime.GOOS))
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// IsNotRunning reports whether err means the daemon is not running.
func IsNotRunning(err error) bool {
	var e *NotRunningError
	return errors.As(err, &e)
}

// StartCommand is the one way cvpn tells people to start its installed
// service on goos (the CLI's errors and the desktop app's advice use the
// same text): the systemd unit of the deb, the launchd job of the macOS
// package, the Windows service.
func StartCommand(goos string) string {
	switch goos {
	case "darwin":
		return "`sudo launchctl kickstart -k system/io.github.cvpn.daemon`"
	case "windows":
		return "`sc start cvpn` in an administrator prompt (or start \"cvpn\" in Services)"
	default:
		return "`sudo systemctl start cvpn`"
	}
}
