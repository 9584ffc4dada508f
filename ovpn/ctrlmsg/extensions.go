package ctrlmsg

import (
	"encoding/base64"
	"errors"
	"strings"
)

// cvpn's own settings travel from the reference server to the client as
// pushed "echo" options, which OpenVPN 2.6 clients accept and ignore (they
// only hand them to a management interface):
//
//	echo cvpn-banner-b64 <base64 of the UTF-8 login banner>
//	echo cvpn-route-enforcement on
const (
	EchoBanner           = "cvpn-banner-b64"
	EchoRouteEnforcement = "cvpn-route-enforcement"
)

// ErrBadBanner reports a pushed login banner that is not valid base64; it
// is ignored and the other extensions still apply.
var ErrBadBanner = errors.New("ignored a login banner that is not valid base64")

// Extensions are the cvpn-specific settings a reference server pushes.
type Extensions struct {
	Banner           string
	RouteEnforcement bool
}

// ParseExtensions reads the extensions out of PushOptions.Echo. Unknown
// echo options are skipped; a banner that does not decode is left out and
// reported with ErrBadBanner next to what was understood.
func ParseExtensions(echo []string) (Extensions, error) {
	var x Extensions
	var err error
	for _, e := range echo {
		name, arg, _ := strings.Cut(e, " ")
		switch name {
		case EchoBanner:
			b, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(arg))
			if derr != nil {
				err = ErrBadBanner
				continue
			}
			x.Banner = string(b)
		case EchoRouteEnforcement:
			x.RouteEnforcement = strings.TrimSpace(arg) == "on"
		}
	}
	return x, err
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
