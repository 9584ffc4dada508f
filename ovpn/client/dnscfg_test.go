package client

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// TestDNSConfigPrefersDNSOption: a pushed dns option wins over dhcp-option
// DNS as in OpenVPN 2.7; its search domains replace DOMAIN; resolve-domains
// become routing domains; ports, DoT and DNSSEC are reported as not
// honoured, and an address with a custom port is left out.
func TestDNSConfigPrefersDNSOption(t *testing.T) {
	p := &profile.Profile{}
	po, err := ctrlmsg.ParsePushOptions([]string{
		"dhcp-option DNS 10.0.0.2", "dhcp-option DOMAIN old.example",
		"dns server 0 address 192.0.2.53 192.0.2.54:5353", "dns server 0 resolve-domains corp.example",
		"dns server 0 transport DoT", "dns server 0 dnssec yes", "dns server 1 address 198.51.100.1",
		"dns search-domains corp.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, notes := dnsConfig(p, po, false)
	if cfg == nil || !reflect.DeepEqual(cfg.Servers, []netip.Addr{netip.MustParseAddr("192.0.2.53")}) ||
		!reflect.DeepEqual(cfg.SearchDomains, []string{"corp.example"}) || !reflect.DeepEqual(cfg.RoutingDomains, []string{"corp.example"}) {
		t.Fatalf("cfg = %+v", cfg)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{
		"dhcp-option DNS 10.0.0.2 not used: the dns option takes precedence",
		"dns server 0 address 192.0.2.54:5353 cannot be honoured",
		"dns server 0 transport DoT cannot be honoured",
		"dns server 0 dnssec yes cannot be honoured",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}

	// Without a dns option: dhcp-option as before, no notes.
	po, _ = ctrlmsg.ParsePushOptions([]string{"dhcp-option DNS 10.0.0.2", "dhcp-option DOMAIN corp.example"})
	cfg, notes = dnsConfig(p, po, true)
	if cfg == nil || cfg.Servers[0].String() != "10.0.0.2" || cfg.SearchDomains[0] != "corp.example" || !cfg.FullTunnel || len(notes) != 0 {
		t.Errorf("dhcp-option only: cfg %+v notes %q", cfg, notes)
	}

	po, _ = ctrlmsg.ParsePushOptions([]string{"dhcp-option DNS 10.0.0.2", "dhcp-option DOMAIN-ROUTE corp.example"})
	if cfg, _ = dnsConfig(p, po, false); cfg == nil || !reflect.DeepEqual(cfg.RoutingDomains, []string{"corp.example"}) || cfg.FullTunnel {
		t.Errorf("DOMAIN-ROUTE: %+v", cfg)
	}

	// The profile's dns server applies when nothing is pushed; a pushed
	// server with the same id replaces it.
	prof, ds := profile.Parse([]byte("client\ndev tun\nremote vpn.example.com\nauth-user-pass\ndns server 0 address 10.9.9.9\n"), profile.Options{Name: "t.ovpn", NoFiles: true})
	if prof == nil || prof.DNS == nil {
		t.Fatalf("profile: %v", ds)
	}
	cfg, _ = dnsConfig(prof, ctrlmsg.NewPushOptions(), false)
	if cfg == nil || cfg.Servers[0].String() != "10.9.9.9" {
		t.Errorf("profile dns: %+v", cfg)
	}
	po, _ = ctrlmsg.ParsePushOptions([]string{"dns server 0 address 192.0.2.1"})
	if cfg, _ = dnsConfig(prof, po, false); cfg == nil || cfg.Servers[0].String() != "192.0.2.1" {
		t.Errorf("pushed server 0 should replace the profile's: %+v", cfg)
	}
}

// TestTunnelConfigBlockOutsideDNS: a pushed block-outside-dns reaches the
// platform's DNS configuration, and a PUSH_UPDATE "-block-outside-dns"
// takes it away again (Windows installs and removes its WFP filters).
func TestTunnelConfigBlockOutsideDNS(t *testing.T) {
	p := &profile.Profile{}
	po, err := ctrlmsg.ParsePushOptions([]string{"ifconfig 10.8.0.2 255.255.255.0", "dhcp-option DNS 10.8.0.1", "block-outside-dns"})
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddr("203.0.113.10")
	tc, err := tunnelConfig(p, po, server, "x")
	if err != nil {
		t.Fatal(err)
	}
	if tc.DNS == nil || !tc.DNS.BlockOutsideDNS {
		t.Fatalf("pushed block-outside-dns: DNS %+v, want BlockOutsideDNS", tc.DNS)
	}
	for _, c := range []struct {
		opt  string
		want bool
	}{{"-block-outside-dns", false}, {"block-outside-dns", true}} {
		o, err := ctrlmsg.ParseUpdateOption(c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if po, err = po.Updated([]ctrlmsg.UpdateOption{o}); err != nil {
			t.Fatal(err)
		}
		if tc, err = tunnelConfig(p, po, server, "x"); err != nil {
			t.Fatal(err)
		}
		if tc.DNS == nil || tc.DNS.BlockOutsideDNS != c.want {
			t.Errorf("after PUSH_UPDATE %q: DNS %+v, want BlockOutsideDNS %v", c.opt, tc.DNS, c.want)
		}
	}
}
