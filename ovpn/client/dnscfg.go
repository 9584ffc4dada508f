package client

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/dnsopt"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/platform"
)

// dnsConfig chooses the tunnel's DNS as OpenVPN 2.7 does: the dns option
// (the profile's, amended by the pushed one) when it names a server, else
// the pushed dhcp-option DNS (with DOMAIN-ROUTE as routing domains). notes says, one line each, what of it cvpn
// cannot honour (ports, DoH/DoT, DNSSEC): the caller logs them and tells
// the user.
func dnsConfig(p *profile.Profile, po *ctrlmsg.PushOptions, fullTunnel bool) (cfg *platform.DNSConfig, notes []string) {
	opts := dnsopt.Merge(p.DNS, po.DNSOption)
	var search []string
	if len(opts.SearchDomains) > 0 {
		search = opts.SearchDomains
	} else {
		if po.Domain != "" {
			search = append(search, po.Domain)
		}
		search = append(search, po.DomainSearch...)
	}
	s, ok := opts.Active()
	if !ok {
		if len(po.DNS) == 0 {
			return nil, nil
		}
		cfg := &platform.DNSConfig{Servers: po.DNS, SearchDomains: search, FullTunnel: fullTunnel}
		for _, d := range po.DomainRoute {
			if d == "." {
				cfg.FullTunnel = true // DOMAIN-ROUTE . : every name to the tunnel's servers
			} else {
				cfg.RoutingDomains = append(cfg.RoutingDomains, d)
			}
		}
		return cfg, nil
	}
	if len(po.DNS) > 0 {
		notes = append(notes, fmt.Sprintf("dhcp-option DNS %s not used: the dns option takes precedence (as in OpenVPN 2.7)", joinAddrs(po.DNS)))
	}
	head := fmt.Sprintf("dns server %d", s.ID)
	var servers []netip.Addr
	for _, a := range s.Addresses {
		if a.Port() != 0 && a.Port() != 53 {
			notes = append(notes, fmt.Sprintf("%s address %s cannot be honoured: the system resolver asks servers on port 53 only; this address is left out", head, dnsopt.FormatAddress(a)))
			continue
		}
		servers = append(servers, a.Addr())
	}
	switch s.Transport {
	case dnsopt.TransportDoH, dnsopt.TransportDoT:
		notes = append(notes, fmt.Sprintf("%s transport %s cannot be honoured: cvpn configures plain DNS; queries go unencrypted to the server through the tunnel", head, s.Transport))
	}
	if s.DNSSEC == dnsopt.DNSSECYes || s.DNSSEC == dnsopt.DNSSECOptional {
		notes = append(notes, fmt.Sprintf("%s dnssec %s cannot be honoured: cvpn does not change the system resolver's DNSSEC validation", head, s.DNSSEC))
	}
	if len(servers) == 0 {
		notes = append(notes, head+": no address usable; DNS left unchanged")
		return nil, notes
	}
	return &platform.DNSConfig{Servers: servers, SearchDomains: search, RoutingDomains: s.ResolveDomains, FullTunnel: fullTunnel}, notes
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}
