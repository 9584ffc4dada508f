package server

import (
	"net/netip"

	"github.com/cvpn/cvpn/ovpn/dnsopt"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/config"
)

// dnsPushOptions renders dns_servers and the [dns] table for one client:
// the dns option (server 0, search-domains) when its IV_PROTO has bit 11
// (OpenVPN 2.7's DNS_OPTION_V2; cvpn sets it too), dhcp-option otherwise
// (DNS, DOMAIN for the first search domain, DOMAIN-SEARCH for the others,
// DOMAIN-ROUTE for resolve-domains).
func dnsPushOptions(c *config.Config, ivProto uint32) []string {
	if ivProto&km2.IVProtoDNSOptionV2 != 0 {
		o := &dnsopt.Options{SearchDomains: c.DNSTable.SearchDomains}
		if len(c.DNS) > 0 {
			s := dnsopt.Server{ID: 0, ResolveDomains: c.DNSTable.ResolveDomains}
			for _, a := range c.DNS {
				s.Addresses = append(s.Addresses, netip.AddrPortFrom(a, 0))
			}
			o.Servers = []dnsopt.Server{s}
		}
		return o.Lines()
	}
	var o []string
	for _, d := range c.DNS {
		o = append(o, "dhcp-option DNS "+d.String())
	}
	for i, d := range c.DNSTable.SearchDomains {
		if i == 0 {
			o = append(o, "dhcp-option DOMAIN "+d)
		} else {
			o = append(o, "dhcp-option DOMAIN-SEARCH "+d)
		}
	}
	for _, d := range c.DNSTable.ResolveDomains {
		o = append(o, "dhcp-option DOMAIN-ROUTE "+d)
	}
	return o
}
