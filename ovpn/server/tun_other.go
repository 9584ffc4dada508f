//go:build !linux

package server

import (
	"errors"
	"log/slog"
	"net/netip"
)

// createTUN is only implemented on Linux; elsewhere Run needs
// Options.Device.
func createTUN(netip.Addr, netip.Prefix, *slog.Logger) (Device, string, func() error, error) {
	return nil, "", nil, errors.New("the reference server's TUN device is only supported on Linux")
}
