package client

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/fixtures"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/profile"
)

func TestTunnelConfigFromPush(t *testing.T) {
	p, ds := profile.Parse([]byte(strings.Join([]string{
		"client", "dev tun", "remote vpn.example.com 443", "auth-user-pass",
		"route 192.168.50.0 255.255.255.0 net_gateway",
		"route 172.16.0.0 255.240.0.0",
		"ifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1",
		"route-ipv6 2000::/3",
		"ca pki/ca.crt",
	}, "\n")), profile.Options{Name: "t.ovpn", BaseDir: fixtures.Profiles()})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	po, err := ctrlmsg.ParsePushOptions(ctrlmsg.SplitOptions("redirect-gateway def1,dhcp-option DNS 10.0.0.2,dhcp-option DOMAIN corp.example,route-gateway 10.100.0.1,topology subnet,ifconfig 10.100.0.7 255.255.252.0,route 172.31.0.0 255.255.0.0,route 10.9.0.0 255.255.0.0 net_gateway,tun-mtu 1400"))
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddr("203.0.113.10")
	tc, err := tunnelConfig(p, po, server, "x")
	if err != nil {
		t.Fatal(err)
	}
	if tc.MTU != 1400 || !tc.RedirectIPv4 || tc.RedirectIPv6 {
		t.Errorf("mtu %d redirect4 %v redirect6 %v", tc.MTU, tc.RedirectIPv4, tc.RedirectIPv6)
	}
	if len(tc.Addresses) != 2 || tc.Addresses[0].Prefix != netip.MustParsePrefix("10.100.0.7/22") || tc.Addresses[1].Prefix != netip.MustParsePrefix("fd15:53b6:dead::2/64") {
		t.Errorf("addresses = %v", tc.Addresses)
	}
	var dsts []string
	for _, r := range tc.Routes {
		dsts = append(dsts, r.Dst.String())
	}
	if got := strings.Join(dsts, " "); got != "172.31.0.0/16 172.16.0.0/12 2000::/3" {
		t.Errorf("tunnel routes = %s", got)
	}
	if len(tc.NetGatewayRoutes) != 2 {
		t.Errorf("net_gateway routes = %v, want the pushed and the profile one", tc.NetGatewayRoutes)
	}
	if tc.DNS == nil || tc.DNS.Servers[0] != netip.MustParseAddr("10.0.0.2") || tc.DNS.SearchDomains[0] != "corp.example" || !tc.DNS.FullTunnel {
		t.Errorf("dns = %+v", tc.DNS)
	}
	if tc.Servers[0] != server {
		t.Errorf("servers = %v", tc.Servers)
	}
}

func TestVerifyX509Name(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Example"}, CommonName: "server.vpn.example"}}
	cert.Subject.Names = []pkix.AttributeTypeAndValue{
		{Type: []int{2, 5, 4, 6}, Value: "US"}, {Type: []int{2, 5, 4, 10}, Value: "Example"}, {Type: []int{2, 5, 4, 3}, Value: "server.vpn.example"},
	}
	if got := SubjectString(cert); got != "C=US, O=Example, CN=server.vpn.example" {
		t.Fatalf("subject = %q", got)
	}
}

func TestIgnoredPushedOptionsAreReportedBounded(t *testing.T) {
	var events []clientapi.Event
	l := &link{cfg: &Config{Events: func(e clientapi.Event) { events = append(events, e) }}, log: slog.New(slog.DiscardHandler)}
	var many []string
	for i := 0; i < 1000; i++ {
		many = append(many, "unknown-option "+strings.Repeat("x", i%200))
	}
	l.reportIgnored(append([]string{"tun-ipv6"}, many...), []string{"route 10.0.0.0 255.0.0.0"})
	if len(events) != maxIgnoredEvents+1 {
		t.Fatalf("%d events for 1001 ignored options, want %d", len(events), maxIgnoredEvents+1)
	}
	if !strings.Contains(events[maxIgnoredEvents].Message, "ignored 981 more") {
		t.Errorf("last event %q does not count the rest", events[maxIgnoredEvents].Message)
	}
	for _, e := range events {
		if len(e.Message) > 200 || strings.Contains(e.Message, "tun-ipv6") {
			t.Errorf("event %q too long or reports the no-op tun-ipv6", e.Message)
		}
	}
	events = nil
	l.reportIgnored(nil, []string{"route 10.0.0.0 255.0.0.0"})
	if len(events) != 1 || !strings.Contains(events[0].Message, "pull-filter") {
		t.Errorf("filtered option events = %+v", events)
	}
}

func TestTooManyPushedRoutesRefused(t *testing.T) {
	l := &link{cfg: &Config{}, prof: &profile.Profile{Name: "t.ovpn"}, log: slog.New(slog.DiscardHandler), peer: "udp 192.0.2.1:1194"}
	opts := []string{"ifconfig 10.8.0.2 255.255.255.0", "topology subnet"}
	for i := 0; i < maxPushedRoutes+1; i++ {
		opts = append(opts, fmt.Sprintf("route 10.%d.%d.0 255.255.255.0", i/256, i%256))
	}
	err := l.applyPush(opts)
	if err == nil || !strings.Contains(err.Error(), "1025 routes") {
		t.Fatalf("err = %v, want a refusal naming the route count", err)
	}
	if err := l.applyPush(opts[:maxPushedRoutes+2]); err != nil {
		t.Fatalf("%d routes refused: %v", maxPushedRoutes, err)
	}
}

// advance picks where the attempt after AUTH_FAILED,TEMP starts.
func TestAdvanceAfterTemp(t *testing.T) {
	at := remotePos{remote: 1, addr: 0, addrs: 2}
	last := remotePos{remote: 1, addr: 1, addrs: 2}
	end := remotePos{remote: 2, addr: 0, addrs: 1}
	for _, tc := range []struct {
		tried remotePos
		how   string
		want  remotePos
	}{
		{at, "no", remotePos{remote: 1, addr: 0}},
		{last, "no", remotePos{remote: 1, addr: 1}},
		{at, "addr", remotePos{remote: 1, addr: 1}},
		{last, "addr", remotePos{remote: 2}},
		{end, "addr", remotePos{remote: 0}},
		{at, "remote", remotePos{remote: 2}},
		{end, "remote", remotePos{remote: 0}},
		{last, "", remotePos{}},
	} {
		if got := advance(tc.tried, tc.how, 3); got != tc.want {
			t.Errorf("advance(%+v, %q) = %+v, want %+v", tc.tried, tc.how, got, tc.want)
		}
	}
}
