package profile

import (
	"strings"
	"testing"
)

// TestDNSDirective: the 2.7 `dns` lines parse into Profile.DNS; a bad one
// names its file, line and what is wrong.
func TestDNSDirective(t *testing.T) {
	head := "client\ndev tun\nremote vpn.lab.test\nauth-user-pass\nca ca.crt\n"
	src := head + "dns server -1 address 10.0.0.53 [fd00::53]:5353\ndns server -1 resolve-domains corp.example\ndns search-domains corp.example\n"
	p, ds := Parse([]byte(src), Options{Name: "p.ovpn", NoFiles: false, Now: testNow})
	for _, d := range ds {
		if strings.Contains(d.Message, "dns") {
			t.Fatalf("unexpected diagnostic: %s", d)
		}
	}
	a, ok := p.DNS.Active()
	if !ok || a.ID != -1 || len(a.Addresses) != 2 || a.Addresses[1].Port() != 5353 || a.ResolveDomains[0] != "corp.example" {
		t.Fatalf("DNS = %+v", p.DNS)
	}
	eq(t, "search domains", p.DNS.SearchDomains, []string{"corp.example"})

	for _, tc := range []struct{ lines, want string }{
		{"dns server 0 transport DoQ\n", `p.ovpn:6: error: dns: server 0 transport "DoQ": want plain, DoH or DoT`},
		{"dns server 0 address 10.0.0.1\ndns server 1 sni dns.example\n", `p.ovpn:6: error: dns server 1 has no address: add a line dns server N address ADDRESS`},
		{"dns server\n", `p.ovpn:6: error: dns: `},
	} {
		_, ds := Parse([]byte(head+tc.lines), Options{Name: "p.ovpn", Now: testNow})
		if !strings.Contains(ds.String(), tc.want) {
			t.Errorf("%q: diagnostics\n%s\nwant %q", tc.lines, ds, tc.want)
		}
	}
}
