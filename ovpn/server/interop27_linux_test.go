package server_test

import (
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestOpenVPN27ClientInterop: OpenVPN 2.7 (sid chroot) connects to cvpn
// server over UDP and TCP and gets dns_servers and the [dns] table as the
// 2.7 dns option (it advertises IV_PROTO bit 11), visible in its log; an
// OpenVPN 2.6 client gets the same as dhcp-option lines. 20 MB each way.
func TestOpenVPN27ClientInterop(t *testing.T) {
	openvpnpeer.Require27(t)
	dnsTOML := "\n[dns]\nsearch_domains = [\"corp.example\"]\nresolve_domains = [\"corp.example\", \"lab.example\"]\n"
	for _, tc := range []struct {
		name    string
		spec    serverSpec
		version openvpnpeer.Version
		want    []string
		notWant string
	}{
		{"udp-tlscrypt-2.7", serverSpec{wrap: "tls-crypt"}, openvpnpeer.V27,
			[]string{"dns server 0 address 192.0.2.53", "dns server 0 resolve-domains corp.example lab.example", "dns search-domains corp.example"}, "dhcp-option DNS"},
		{"tcp-tlsauth-2.7", serverSpec{transport: "tcp", wrap: "tls-auth", ciphers: []string{"CHACHA20-POLY1305"}}, openvpnpeer.V27,
			[]string{"dns server 0 address 192.0.2.53", "dns search-domains corp.example"}, "dhcp-option DNS"},
		{"udp-2.6-dhcp-option", serverSpec{}, openvpnpeer.V26,
			[]string{"dhcp-option DNS 192.0.2.53", "dhcp-option DOMAIN corp.example", "dhcp-option DOMAIN-ROUTE lab.example"}, "dns server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.top = "dns_servers = [\"192.0.2.53\"]\n"
			tc.spec.extra = dnsTOML
			ls := newLabServer(t, tc.spec)
			cl := openvpnpeer.Connect(t, openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: ls.profile(t, ""), Version: tc.version})
			log := cl.Log()
			push := ""
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "PUSH_REPLY") {
					push = l
					break
				}
			}
			if push == "" {
				t.Fatalf("no PUSH_REPLY in the %s client's log:\n%s", tc.version, log)
			}
			for _, w := range tc.want {
				if !strings.Contains(push, w) {
					t.Errorf("%s client received no %q:\n%s", tc.version, w, push)
				}
			}
			if strings.Contains(push, tc.notWant) {
				t.Errorf("%s client received %q:\n%s", tc.version, tc.notWant, push)
			}
			proveTraffic(t, ls.lab, cl.TunnelIP)
		})
	}
}
