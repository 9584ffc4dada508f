package routing

import (
	"net/netip"
	"strings"
	"testing"
)

var pfx = netip.MustParsePrefix
var addr = netip.MustParseAddr

func lan(dst, gw string) Route {
	r := Route{Dst: pfx(dst), Interface: "eth0", IfIndex: 2, Metric: 100, Table: MainTable, Protocol: 4, Type: TypeUnicast}
	if gw != "" {
		r.Gateway = addr(gw)
	}
	return r
}

func tun(dst string) Route {
	return Route{Dst: pfx(dst), Interface: "tun0", IfIndex: 9, Table: MainTable, Type: TypeUnicast}
}

func TestConflicts(t *testing.T) {
	tunnel := Tunnel{Name: "tun0", Index: 9}
	full4 := []string{"0.0.0.0/1", "128.0.0.0/1"}
	full6 := []string{"::/3", "2000::/4", "3000::/4", "fc00::/7"}
	tests := []struct {
		name     string
		vpn      []string
		exempt   []string
		table    []Route
		conflict []string // destinations expected to conflict, in removal order
	}{
		{
			name:     "spec example: /24 via LAN inside /16 via VPN conflicts",
			vpn:      []string{"172.31.0.0/16"},
			table:    []Route{tun("172.31.0.0/16"), lan("172.31.1.0/24", "192.168.1.1")},
			conflict: []string{"172.31.1.0/24"},
		},
		{
			name:     "equal prefix via LAN conflicts",
			vpn:      []string{"172.31.0.0/16"},
			table:    []Route{tun("172.31.0.0/16"), lan("172.31.0.0/16", "192.168.1.1")},
			conflict: []string{"172.31.0.0/16"},
		},
		{
			name:  "less specific 10.0.0.0/8 does not conflict with 10.1.0.0/16",
			vpn:   []string{"10.1.0.0/16"},
			table: []Route{tun("10.1.0.0/16"), lan("10.0.0.0/8", "192.168.1.1"), lan("0.0.0.0/0", "192.168.1.1")},
		},
		{
			name:  "disjoint routes do not conflict",
			vpn:   []string{"172.31.0.0/16"},
			table: []Route{lan("172.30.0.0/16", ""), lan("192.168.1.0/24", ""), lan("172.32.0.0/24", "")},
		},
		{
			name:     "net_gateway exempt: routes inside it stay, others go",
			vpn:      []string{"10.0.0.0/8"},
			exempt:   []string{"10.20.0.0/16"},
			table:    []Route{lan("10.20.0.0/16", "192.168.1.1"), lan("10.20.5.0/24", "192.168.1.1"), lan("10.30.0.0/16", "192.168.1.1"), lan("10.0.0.0/12", "192.168.1.1")},
			conflict: []string{"10.30.0.0/16", "10.0.0.0/12"},
		},
		{
			name:     "server host route exempt, other host routes not",
			vpn:      full4,
			exempt:   []string{"203.0.113.10/32"},
			table:    []Route{lan("203.0.113.10/32", "192.168.1.1"), lan("203.0.113.11/32", "192.168.1.1")},
			conflict: []string{"203.0.113.11/32"},
		},
		{
			name: "ignored IPv4 networks never conflict",
			vpn:  full4,
			table: []Route{
				lan("127.0.0.0/8", ""), lan("169.254.0.0/16", ""), lan("169.254.169.254/32", ""),
				lan("224.0.0.0/4", ""), lan("239.1.2.0/24", ""), lan("255.255.255.255/32", ""),
			},
		},
		{
			name:  "ignored IPv6 networks never conflict",
			vpn:   []string{"::/1", "8000::/1"},
			table: []Route{lan("::1/128", ""), lan("fe80::/64", ""), lan("fe80::1/128", ""), lan("ff00::/8", ""), lan("ff02::/16", "")},
		},
		{
			name:   "full tunnel halves: every LAN route conflicts except default, exempt and ignored",
			vpn:    full4,
			exempt: []string{"203.0.113.10/32", "198.51.100.0/24"},
			table: []Route{
				tun("0.0.0.0/1"), tun("128.0.0.0/1"), tun("10.100.0.0/22"),
				lan("0.0.0.0/0", "192.168.1.1"),
				lan("192.168.1.0/24", ""),
				lan("10.0.0.0/8", "192.168.1.254"),
				lan("203.0.113.10/32", "192.168.1.1"),
				lan("198.51.100.0/25", "192.168.1.1"),
				lan("169.254.0.0/16", ""),
			},
			conflict: []string{"192.168.1.0/24", "10.0.0.0/8"},
		},
		{
			name: "IPv6 full tunnel: LAN /64 and RA routes conflict, default and link-local do not",
			vpn:  full6,
			table: []Route{
				tun("2000::/4"), tun("fc00::/7"),
				lan("::/0", "fe80::1"),
				lan("2001:db8:1::/64", ""),
				lan("fd00:1::/48", "fe80::1"),
				lan("fe80::/64", ""),
				lan("4000::/3", "fe80::1"),
			},
			conflict: []string{"2001:db8:1::/64", "fd00:1::/48"},
		},
		{
			name:     "IPv6 split tunnel: more specific conflicts, less specific does not",
			vpn:      []string{"2001:db8:100::/40"},
			table:    []Route{lan("2001:db8:100:5::/64", ""), lan("2001:db8::/32", "fe80::1"), tun("2001:db8:100::/40")},
			conflict: []string{"2001:db8:100:5::/64"},
		},
		{
			name: "families do not mix",
			vpn:  []string{"0.0.0.0/1"},
			table: []Route{
				lan("::/1", ""), lan("::ffff:0:0/96", ""),
			},
		},
		{
			name: "routes through the tunnel never conflict, by name or by index",
			vpn:  []string{"172.31.0.0/16"},
			table: []Route{
				tun("172.31.5.0/24"),
				{Dst: pfx("172.31.6.0/24"), IfIndex: 9},
				{Dst: pfx("172.31.7.0/24"), Interface: "tun0"},
			},
		},
		{
			name: "other tables, local and broadcast entries are out of scope",
			vpn:  []string{"172.31.0.0/16"},
			table: []Route{
				{Dst: pfx("172.31.1.0/24"), Interface: "eth0", Table: 100},
				{Dst: pfx("172.31.1.5/32"), Interface: "eth0", Table: MainTable, Type: TypeLocal},
				{Dst: pfx("172.31.1.255/32"), Interface: "eth0", Table: MainTable, Type: TypeBroadcast},
				{Dst: pfx("172.31.2.0/24"), Interface: "eth0", Table: 255, Type: TypeUnicast},
			},
		},
		{
			name: "blackhole and unreachable routes steal traffic too; table 0 is main",
			vpn:  []string{"172.31.0.0/16"},
			table: []Route{
				{Dst: pfx("172.31.9.0/24"), Table: MainTable, Type: TypeBlackhole},
				{Dst: pfx("172.31.8.0/24"), Type: TypeUnreachable},
				{Dst: pfx("172.31.7.0/24"), Interface: "en0"},
			},
			conflict: []string{"172.31.9.0/24", "172.31.8.0/24", "172.31.7.0/24"},
		},
		{
			name: "multipath: via tunnel only when every hop is",
			vpn:  []string{"172.31.0.0/16"},
			table: []Route{
				{Dst: pfx("172.31.1.0/24"), Table: MainTable, Hops: []NextHop{{Interface: "tun0"}, {Interface: "tun0", Gateway: addr("10.100.0.1")}}},
				{Dst: pfx("172.31.2.0/24"), Table: MainTable, Hops: []NextHop{{Interface: "tun0"}, {Interface: "eth0", Gateway: addr("192.168.1.1")}}},
			},
			conflict: []string{"172.31.2.0/24"},
		},
		{
			name:     "on-link routes come before gateway routes in removal order",
			vpn:      []string{"172.31.0.0/16"},
			table:    []Route{lan("172.31.5.0/24", "172.31.1.1"), lan("172.31.1.0/24", ""), lan("172.31.6.0/24", "172.31.1.1")},
			conflict: []string{"172.31.1.0/24", "172.31.5.0/24", "172.31.6.0/24"},
		},
		{
			name:     "VPN prefix given with host bits is masked",
			vpn:      []string{"172.31.77.1/16"},
			table:    []Route{lan("172.31.1.0/24", "")},
			conflict: []string{"172.31.1.0/24"},
		},
		{
			name:     "pushed 0.0.0.0/0 makes the LAN default route (equal prefix) conflict",
			vpn:      []string{"0.0.0.0/0"},
			table:    []Route{lan("0.0.0.0/0", "192.168.1.1"), lan("192.168.1.0/24", "")},
			conflict: []string{"192.168.1.0/24", "0.0.0.0/0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Conflicts(prefixes(tt.vpn), prefixes(tt.exempt), tt.table, tunnel)
			var dsts []string
			for _, r := range got {
				dsts = append(dsts, r.Dst.String())
			}
			if strings.Join(dsts, " ") != strings.Join(tt.conflict, " ") {
				t.Errorf("conflicts = %v, want %v", dsts, tt.conflict)
			}
		})
	}
}

func prefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, pfx(s))
	}
	return out
}

func TestPolicyConflictReportsMostSpecificVPNPrefix(t *testing.T) {
	p, err := NewPolicy(PolicyInput{
		EndpointEnforces: true,
		VPNRoutes:        []netip.Prefix{pfx("10.0.0.0/8"), pfx("10.1.0.0/16")},
		RedirectIPv4:     true,
		Tunnel:           Tunnel{Name: "tun0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dst, want string }{
		{"10.1.2.0/24", "10.1.0.0/16"},
		{"10.2.0.0/16", "10.0.0.0/8"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"192.168.0.0/16", "128.0.0.0/1"},
		{"1.0.0.0/8", "0.0.0.0/1"},
	} {
		got, ok := p.Conflict(lan(tc.dst, ""))
		if !ok || got != pfx(tc.want) {
			t.Errorf("Conflict(%s) = %v, %v; want %s", tc.dst, got, ok, tc.want)
		}
	}
}

func TestNewPolicy(t *testing.T) {
	p, err := NewPolicy(PolicyInput{
		AdminForce:       true,
		VPNRoutes:        []netip.Prefix{pfx("172.31.0.0/16")},
		RedirectIPv6:     true,
		NetGatewayRoutes: []netip.Prefix{pfx("172.31.200.0/24")},
		ServerAddrs:      []netip.Addr{addr("203.0.113.10"), addr("2001:db8::10")},
		Tunnel:           Tunnel{Index: 7},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled {
		t.Error("AdminForce did not enable enforcement")
	}
	wantVPN := []string{"172.31.0.0/16", "::/3", "2000::/4", "3000::/4", "fc00::/7"}
	if got := p.VPN.Prefixes(); !equalPrefixes(got, wantVPN) {
		t.Errorf("VPN = %v, want %v", got, wantVPN)
	}
	wantExempt := []string{"172.31.200.0/24", "203.0.113.10/32", "2001:db8::10/128"}
	if got := p.Exempt.Prefixes(); !equalPrefixes(got, wantExempt) {
		t.Errorf("Exempt = %v, want %v", got, wantExempt)
	}

	off, err := NewPolicy(PolicyInput{VPNRoutes: []netip.Prefix{pfx("10.0.0.0/8")}})
	if err != nil || off.Enabled {
		t.Errorf("no switch and no admin force: Enabled=%v err=%v, want off without error", off.Enabled, err)
	}

	for _, tc := range []struct {
		in   PolicyInput
		want string
	}{
		{PolicyInput{EndpointEnforces: true, VPNRoutes: []netip.Prefix{pfx("10.0.0.0/8")}}, "tunnel interface is unknown"},
		{PolicyInput{EndpointEnforces: true, Tunnel: Tunnel{Name: "tun0"}}, "no routes to protect"},
		{PolicyInput{VPNRoutes: []netip.Prefix{pfx("10.0.0.0/8"), {}}}, "VPN route 2 is not a valid prefix"},
		{PolicyInput{NetGatewayRoutes: []netip.Prefix{{}}}, "net_gateway route 1"},
		{PolicyInput{ServerAddrs: []netip.Addr{{}}}, "server address 1"},
	} {
		_, err := NewPolicy(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewPolicy(%+v) error = %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

func equalPrefixes(got []netip.Prefix, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != pfx(want[i]) {
			return false
		}
	}
	return true
}
