package client_test

import (
	"os"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// TestInteropOpenVPN27Server: cvpn against OpenVPN 2.7 (sid chroot), UDP
// and TCP. The server pushes the 2.7 dns option (and a dhcp-option DNS it
// overrides); cvpn writes the dns option's server and search domain into
// the namespace's resolver configuration, moves 20 MB each way and leaves
// the namespace as it was.
func TestInteropOpenVPN27Server(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "ping")
	openvpnpeer.Require27(t)
	for _, tc := range []interopCase{
		{name: "udp-aes256gcm-tlscrypt", server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt},
			wantCipher: "AES-256-GCM", wantKD: "tls-ekm"},
		{name: "tcp-chacha20-tlsauth", server: openvpnpeer.ServerConfig{Proto: "tcp", Wrap: openvpnpeer.WrapTLSAuth, DataCiphers: []string{"CHACHA20-POLY1305"}},
			wantCipher: "CHACHA20-POLY1305", wantKD: "tls-ekm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.server.Version = openvpnpeer.V27
			tc.server.Push = []string{"dhcp-option DNS 198.19.0.53", "dns server 0 address 192.0.2.53",
				"dns server 0 resolve-domains corp.example", "dns search-domains corp.example"}
			tc.profile = openvpnpeer.ProfileOptions{ClientCert: "client1"}
			r := startInterop(t, tc)
			rc, err := os.ReadFile(nstest.ResolvConfPath(r.lab.Client))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(rc), "\n")
			if len(lines) < 3 || !strings.Contains(string(rc), "\nnameserver 192.0.2.53\n") || !strings.Contains(string(rc), "search corp.example") {
				t.Errorf("resolv.conf while connected does not name the dns option's server and search domain:\n%s", rc)
			}
			if strings.Contains(string(rc), "198.19.0.53") {
				t.Errorf("resolv.conf names the dhcp-option DNS server the dns option overrides:\n%s", rc)
			}
			if out := r.cl.Output(); !strings.Contains(out, "dhcp-option DNS 198.19.0.53 not used") {
				t.Errorf("no event saying the dhcp-option DNS was overridden:\n%s", out)
			}
			r.prove(t)
			r.stop(t)
			if rc, _ := os.ReadFile(nstest.ResolvConfPath(r.lab.Client)); strings.Contains(string(rc), "192.0.2.53") {
				t.Errorf("resolv.conf still names the tunnel's server after disconnect:\n%s", rc)
			}
		})
	}
}
