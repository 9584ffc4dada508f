package routing

import "testing"

func TestRouteString(t *testing.T) {
	for _, tc := range []struct {
		r    Route
		want string
	}{
		{fullRoute(), "172.31.1.0/24 via 192.168.1.1 dev eth0 src 192.168.1.50 metric 600 table 254 proto 16 mtu 1400 flags 0x4"},
		{Route{Dst: pfx("10.0.0.0/8"), IfIndex: 7, Type: TypeBlackhole}, "10.0.0.0/8 dev #7 type 6"},
		{multipathRoute(), "2001:db8:7::/48 metric 1024 table 254 proto 9 nexthop via fe80::1 dev eth0 weight 1 nexthop via fe80::2 dev wlan0 weight 2"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String:\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestRouteEqualAndClone(t *testing.T) {
	a := multipathRoute()
	b := a.Clone()
	if !a.Equal(b) {
		t.Fatal("clone differs")
	}
	b.Hops[1].Weight = 5
	if a.Hops[1].Weight != 2 {
		t.Fatal("clone shares hops")
	}
	if a.Equal(b) {
		t.Error("routes with different hop weights are equal")
	}
	c := fullRoute()
	for i, mutate := range []func(*Route){
		func(r *Route) { r.Metric++ }, func(r *Route) { r.Src = addr("192.168.1.51") },
		func(r *Route) { r.Protocol = 3 }, func(r *Route) { r.IfIndex = 5 }, func(r *Route) { r.MTU = 0 },
		func(r *Route) { r.Flags = 0 }, func(r *Route) { r.Table = 0 }, func(r *Route) { r.Scope = 253 },
	} {
		d := c.Clone()
		mutate(&d)
		if c.Equal(d) {
			t.Errorf("mutation %d not seen by Equal", i)
		}
	}
}

func TestTunnelCarries(t *testing.T) {
	byName := Tunnel{Name: "tun0"}
	byIndex := Tunnel{Index: 9}
	both := Tunnel{Name: "tun0", Index: 9}
	for _, tc := range []struct {
		tun  Tunnel
		r    Route
		want bool
	}{
		{byName, Route{Interface: "tun0", IfIndex: 3}, true},
		{byName, Route{IfIndex: 9}, false},
		{byIndex, Route{IfIndex: 9, Interface: "utun4"}, true},
		{both, Route{Interface: "eth0", IfIndex: 9}, false},
		{both, Route{IfIndex: 9}, true},
		{Tunnel{}, Route{Interface: ""}, false},
		{both, Route{Hops: []NextHop{{Interface: "tun0"}, {IfIndex: 9}}}, true},
		{both, Route{Interface: "tun0", Hops: []NextHop{{Interface: "tun0"}, {Interface: "eth0"}}}, false},
	} {
		if got := tc.tun.Carries(tc.r); got != tc.want {
			t.Errorf("%+v.Carries(%+v) = %v, want %v", tc.tun, tc.r, got, tc.want)
		}
	}
}
