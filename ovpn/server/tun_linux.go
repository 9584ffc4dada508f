package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/cvpn/cvpn/platform"
)

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// createTUN creates the server's TUN device holding addr/prefix bits and
// enables IPv4 forwarding. undo restores the forwarding setting when Run
// changed it (the device itself goes away when closed).
func createTUN(addr netip.Addr, p netip.Prefix, log *slog.Logger) (Device, string, func() error, error) {
	host, err := platform.Open(platform.OpenOptions{Logger: log, NoResolved: true})
	if err != nil {
		return nil, "", nil, fmt.Errorf("opening the network stack: %w", err)
	}
	defer host.Close()
	dev, name, err := host.CreateTUN("cvpns%d", platform.DefaultMTU)
	if err != nil {
		return nil, "", nil, fmt.Errorf("creating the server TUN device (needs root or CAP_NET_ADMIN): %w", err)
	}
	if _, err := host.ConfigureInterface(name, []platform.Address{{Prefix: netip.PrefixFrom(addr, p.Bits())}}, platform.DefaultMTU); err != nil {
		dev.Close()
		return nil, "", nil, fmt.Errorf("configuring %s: %w", name, err)
	}
	undo := func() error { return nil }
	old, err := os.ReadFile(ipForwardPath)
	if err == nil && !bytes.Equal(bytes.TrimSpace(old), []byte("1")) {
		if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
			log.Warn("cannot enable IPv4 forwarding; clients reach only the server", "err", err)
		} else {
			log.Info("enabled IPv4 forwarding", "file", ipForwardPath)
			undo = func() error { return os.WriteFile(ipForwardPath, old, 0o644) }
		}
	}
	return dev, name, undo, nil
}
