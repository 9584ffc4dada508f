package client

import (
	"encoding/base64"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/platform"
)

// Pushed extensions travel as "echo" options, which OpenVPN 2.6 clients
// accept and ignore (they only hand them to a management interface):
//
//	echo cvpn-banner-b64 <base64 of the UTF-8 login banner>
//	echo cvpn-route-enforcement on
const (
	EchoBanner           = "cvpn-banner-b64"
	EchoRouteEnforcement = "cvpn-route-enforcement"
)

// Extensions are the cvpn-specific settings a reference server pushes.
type Extensions struct {
	Banner           string
	RouteEnforcement bool
}

func parseExtensions(echo []string, log *slog.Logger) Extensions {
	var x Extensions
	for _, e := range echo {
		name, arg, _ := strings.Cut(e, " ")
		switch name {
		case EchoBanner:
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(arg))
			if err != nil {
				log.Warn("ignored a login banner that is not valid base64")
				continue
			}
			x.Banner = string(b)
		case EchoRouteEnforcement:
			x.RouteEnforcement = strings.TrimSpace(arg) == "on"
		}
	}
	return x
}

// EchoOptions renders extensions as pushed echo options (server side).
func (x Extensions) EchoOptions() []string {
	var out []string
	if x.Banner != "" {
		out = append(out, "echo "+EchoBanner+" "+base64.StdEncoding.EncodeToString([]byte(x.Banner)))
	}
	if x.RouteEnforcement {
		out = append(out, "echo "+EchoRouteEnforcement+" on")
	}
	return out
}

// TunnelInfo describes a configured tunnel to OnTunnelUp.
type TunnelInfo struct {
	Interface string
	IfIndex   int
	// Config is what was applied: addresses, routes, redirect flags,
	// net_gateway routes and the server address.
	Config platform.TunnelConfig
	Push   *ctrlmsg.PushOptions
	Server netip.Addr
	// EnforceRoutes is the endpoint's client-route-enforcement switch.
	EnforceRoutes bool
}
