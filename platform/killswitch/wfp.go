package killswitch

import "fmt"

// WFPFilter is one filter of the Windows backend's filter set, in the
// order of weight (highest first), as golang.zx2c4.com/wireguard/windows's
// firewall package installs it in a dynamic WFP session.
type WFPFilter struct {
	Name   string
	Permit bool
}

// WFPFilters is the filter set the Windows backend installs for r, or an
// error naming what WFP through that package cannot express. The package
// permits cvpn's own executable (its application ID) instead of marked
// sockets: that covers the server connections and the DNS lookups of the
// server's name.
func WFPFilters(r Rules) ([]WFPFilter, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.Mode != ModeFull {
		return nil, fmt.Errorf("killswitch: a %s-tunnel block: %w (Windows blocks full-tunnel profiles only)", r.Mode, ErrUnsupported)
	}
	if len(r.NetGateway) > 0 {
		return nil, fmt.Errorf("killswitch: net_gateway exceptions %v while blocked: %w (Windows)", r.NetGateway, ErrUnsupported)
	}
	fs := []WFPFilter{
		{Name: "permit cvpn (this executable: server connections, DNS lookups of the server)", Permit: true},
		{Name: "permit loopback", Permit: true},
	}
	if r.Tunnel != "" {
		fs = append(fs, WFPFilter{Name: "permit the tunnel " + r.Tunnel, Permit: true})
	}
	fs = append(fs,
		WFPFilter{Name: "permit DHCPv4", Permit: true},
		WFPFilter{Name: "permit DHCPv6", Permit: true},
		WFPFilter{Name: "permit neighbour discovery", Permit: true},
		WFPFilter{Name: "block everything else"},
	)
	return fs, nil
}
