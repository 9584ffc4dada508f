//go:build !windows

package main

import (
	"context"
	"errors"
	"io"
	"runtime"
)

// serviceManagerHint says which service manager runs the daemon here.
func serviceManagerHint() string {
	if runtime.GOOS == "darwin" {
		return "on macOS the cvpn installer runs the daemon as the LaunchDaemon io.github.cvpn.daemon " +
			"(sudo launchctl bootstrap system /Library/LaunchDaemons/io.github.cvpn.daemon.plist; " +
			"bootout to stop it); use cvpn daemon to run it in a terminal"
	}
	return "on Linux the cvpn package runs the daemon as the systemd unit cvpn.service " +
		"(sudo systemctl enable --now cvpn.service; disable --now to remove it); use cvpn daemon to run it in a terminal"
}

func installService(io.Writer) error   { return errors.New(serviceManagerHint()) }
func uninstallService(io.Writer) error { return errors.New(serviceManagerHint()) }

func runAsService(func(context.Context, io.Writer) error, io.Writer) error {
	return errors.New(serviceManagerHint())
}
