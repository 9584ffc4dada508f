package routeopt

import (
	"errors"
	"net/netip"
	"testing"
)

// A route line means the same and fails with the same words wherever it
// comes from; these are the messages a user sees for a profile line.
func TestParse(t *testing.T) {
	good := map[string]struct {
		args []string
		want Route
	}{
		"host":     {[]string{"192.168.7.7"}, Route{Dst: netip.MustParsePrefix("192.168.7.7/32")}},
		"net_gw":   {[]string{"10.2.0.0", "255.255.0.0", "net_gateway"}, Route{Dst: netip.MustParsePrefix("10.2.0.0/16"), GatewayKind: NetGateway}},
		"metric":   {[]string{"10.3.0.0", "255.255.0.0", "default", "7"}, Route{Dst: netip.MustParsePrefix("10.3.0.0/16"), Metric: 7, HasMetric: true}},
		"explicit": {[]string{"10.1.0.0", "255.255.255.0", "10.8.0.1"}, Route{Dst: netip.MustParsePrefix("10.1.0.0/24"), GatewayKind: ExplicitGateway, Gateway: netip.MustParseAddr("10.8.0.1")}},
	}
	for name, c := range good {
		if r, err := Parse(c.args); err != nil || r != c.want {
			t.Errorf("%s: got %+v, %v", name, r, err)
		}
	}
	bad := map[string][]string{
		"route 10.0.0.0/8: route takes NETWORK NETMASK, not CIDR: write route 10.0.0.0 255.0.0.0":                                  {"10.0.0.0/8"},
		"route vpn.example: the network must be an IPv4 address (host names are not resolved in routes)":                           {"vpn.example"},
		"route 10.0.0.0 255.0.255.0: the netmask is not contiguous; masks look like 255.255.255.0":                                 {"10.0.0.0", "255.0.255.0"},
		"route 10.0.0.1 255.255.255.0: the network has host bits set for this netmask; did you mean route 10.0.0.0 255.255.255.0?": {"10.0.0.1", "255.255.255.0"},
		`route 10.0.0.0: gateway "fe80::1" must be an IPv4 address, vpn_gateway or net_gateway`:                                    {"10.0.0.0", "255.0.0.0", "fe80::1"},
		"route metric x: expected a whole number from 0 to 1073741824":                                                             {"10.0.0.0", "255.0.0.0", "10.8.0.1", "x"},
	}
	for want, args := range bad {
		if _, err := Parse(args); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %q", args, err, want)
		}
	}
}

func TestParseIPv6(t *testing.T) {
	r, err := ParseIPv6([]string{"fc00::/7", "fd15:53b6:dead::1", "3"})
	if err != nil || r.Dst.String() != "fc00::/7" || r.GatewayKind != ExplicitGateway || !r.HasMetric || r.Metric != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	if r, err := ParseIPv6([]string{"2001:db8::5"}); err != nil || r.Dst.Bits() != 128 {
		t.Fatalf("bare address: %+v %v", r, err)
	}
	// Host bits: the message suggests the network, and the error carries it
	// (the push parser masks instead of failing).
	r, err = ParseIPv6([]string{"2001:db8::1/32", "net_gateway"})
	var e *Error
	if !errors.As(err, &e) || !e.HostBits || r.Dst.String() != "2001:db8::/32" ||
		err.Error() != "route-ipv6 2001:db8::1/32: the network has host bits set; did you mean 2001:db8::/32?" {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := ParseIPv6([]string{"10.0.0.0/8"}); err == nil || err.Error() != "route-ipv6 10.0.0.0/8: not an IPv6 network in CIDR form (for example 2000::/3)" {
		t.Fatal(err)
	}
}
