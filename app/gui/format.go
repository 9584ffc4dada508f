package gui

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// FormatBytes prints a byte count for people: "0 B", "1.5 KB", "12.3 MB".
func FormatBytes(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		v /= unit
		if v < unit || u == "TB" {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return ""
}

// FormatDuration prints an elapsed time as "42s", "5m 03s" or "2h 05m".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh %02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// StateUnknown is shown for a connection whose state the app cannot know:
// the connection to the cvpn service was lost while it was open or on its
// way up. It is the app's own state; the daemon never reports it.
const StateUnknown clientapi.State = "unknown"

// Idle reports whether a state offers Connect: not connected, or unknown
// because the service stopped (the service closes its tunnels when it
// stops, and a connect attempt says whether it is back).
func Idle(s clientapi.State) bool {
	return s == clientapi.StateDisconnected || s == "" || s == StateUnknown
}

// StateLabel is the state as shown in the window: "Connected",
// "Waiting for browser sign-in", "Not connected".
func StateLabel(s clientapi.State) string {
	switch s {
	case clientapi.StateResolving:
		return "Looking up server"
	case clientapi.StateConnecting:
		return "Connecting"
	case clientapi.StateAuthenticating:
		return "Signing in"
	case clientapi.StateWaitingForBrowser:
		return "Waiting for browser sign-in"
	case clientapi.StateConfiguring:
		return "Setting up the tunnel"
	case clientapi.StateConnected:
		return "Connected"
	case clientapi.StateReconnecting:
		return "Reconnecting"
	case clientapi.StateDisconnecting:
		return "Disconnecting"
	case clientapi.StateDisconnected, "":
		return "Not connected"
	case StateUnknown:
		return "Unknown — service stopped"
	default:
		return strings.ToUpper(string(s[:1])) + string(s[1:])
	}
}

// Busy reports whether a state is on the way up or down (shown with a
// progress bar).
func Busy(s clientapi.State) bool {
	switch s {
	case clientapi.StateResolving, clientapi.StateConnecting, clientapi.StateAuthenticating,
		clientapi.StateWaitingForBrowser, clientapi.StateConfiguring, clientapi.StateReconnecting, clientapi.StateDisconnecting:
		return true
	}
	return false
}

// Progress places a state on the way to connected, 0..1.
func Progress(s clientapi.State) float64 {
	switch s {
	case clientapi.StateResolving:
		return 0.1
	case clientapi.StateConnecting:
		return 0.25
	case clientapi.StateAuthenticating, clientapi.StateWaitingForBrowser:
		return 0.5
	case clientapi.StateConfiguring:
		return 0.8
	case clientapi.StateConnected:
		return 1
	case clientapi.StateReconnecting:
		return 0.25
	}
	return 0
}

// ServerText is the Server field. remotes are the profile's servers as
// "host:port/proto"; remote is the one in use (empty when unknown) and
// addr the address reached ("198.18.0.2:1194", empty before one
// answered). It always names the host as the profile does:
// "vpn.lab.test:1194/udp" before connecting, "vpn.lab.test:1194/udp
// (198.18.0.2)" once connected.
func ServerText(remotes []string, remote, addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if remote == "" && err == nil {
		// Only a status snapshot: the remote with that address, else the
		// only remote with that port.
		var samePort []string
		for _, r := range remotes {
			host, port, ok := splitRemote(r)
			if !ok || port != strconv.Itoa(int(ap.Port())) {
				continue
			}
			if host == ap.Addr().Unmap().String() {
				samePort = []string{r}
				break
			}
			samePort = append(samePort, r)
		}
		if len(samePort) == 1 {
			remote = samePort[0]
		}
	}
	switch {
	case remote == "" && addr != "":
		return addr
	case remote == "":
		return strings.Join(remotes, ", ")
	case err != nil:
		return remote
	}
	ip := ap.Addr().Unmap().String()
	if host, _, ok := splitRemote(remote); ok && host == ip {
		return remote
	}
	return remote + " (" + ip + ")"
}

// splitRemote splits "host:port/proto" (host in brackets when IPv6).
func splitRemote(r string) (host, port string, ok bool) {
	hp, _, _ := strings.Cut(r, "/")
	host, port, err := net.SplitHostPort(hp)
	return host, port, err == nil
}
