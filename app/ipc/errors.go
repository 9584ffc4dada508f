package ipc

import (
	"errors"
	"fmt"
)

// NotRunningError: nothing listens on the daemon socket.
type NotRunningError struct {
	Path string
	Err  error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("the cvpn daemon is not running (nothing listens on %s); start it with `sudo systemctl start cvpn` or `sudo cvpn daemon`, or connect in the foreground with `sudo cvpn connect`", e.Path)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// IsNotRunning reports whether err means the daemon is not running.
func IsNotRunning(err error) bool {
	var e *NotRunningError
	return errors.As(err, &e)
}
