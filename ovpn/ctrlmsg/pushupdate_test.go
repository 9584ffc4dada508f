package ctrlmsg

import (
	"strings"
	"testing"
)

func TestParseUpdateOption(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want UpdateOption
	}{
		{"route 10.10.10.1 255.255.255.255", UpdateOption{Name: "route", Args: "10.10.10.1 255.255.255.255"}},
		{"-dns", UpdateOption{Name: "dns", Remove: true}},
		{"?tun-mtu 1400", UpdateOption{Name: "tun-mtu", Args: "1400", Optional: true}},
		{"-?route-ipv6", UpdateOption{Name: "route-ipv6", Remove: true, Optional: true}},
		{"?cipher AES-128-GCM", UpdateOption{Name: "cipher", Args: "AES-128-GCM", Optional: true}},
		{"redirect-gateway", UpdateOption{Name: "redirect-gateway"}},
	} {
		got, err := ParseUpdateOption(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("%q written back as %q", tc.in, got.String())
		}
	}
	for _, bad := range []string{"?-dns", "-dns 1.2.3.4", "cipher AES-128-GCM", "route", "", "-", "route 1.2.3.4,route 5.6.7.8"} {
		if _, err := ParseUpdateOption(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// One message when it fits; split updates carry push-continuation 2 and
// end with 1, and read back to the same options.
func TestBuildAndParsePushUpdates(t *testing.T) {
	msgs, err := BuildPushUpdates([]string{"route 10.10.10.1 255.255.255.255", "-dns", "?tun-mtu 1400"}, 1024)
	if err != nil || len(msgs) != 1 || msgs[0] != "PUSH_UPDATE,route 10.10.10.1 255.255.255.255,-dns,?tun-mtu 1400" {
		t.Fatalf("%q %v", msgs, err)
	}
	var opts []string
	for i := 0; i < 40; i++ {
		opts = append(opts, "route 10.20.30.0 255.255.255.0 vpn_gateway 5")
	}
	msgs, err = BuildPushUpdates(opts, 300)
	if err != nil || len(msgs) < 2 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	var back int
	for i, m := range msgs {
		if len(m) > 300 {
			t.Fatalf("message %d has %d bytes", i, len(m))
		}
		pu, ok, err := ParsePushUpdate(m + "\x00")
		if !ok || err != nil {
			t.Fatalf("message %d: %v %v", i, ok, err)
		}
		if last := i == len(msgs)-1; pu.More == last || strings.HasSuffix(m, "push-continuation 1") != last {
			t.Fatalf("message %d of %d: More=%v: %q", i, len(msgs), pu.More, m)
		}
		back += len(pu.Options)
	}
	if back != 40 {
		t.Fatalf("%d options read back, want 40", back)
	}
	if _, err := BuildPushUpdates([]string{"ifconfig-pool 1 2"}, 1024); err == nil {
		t.Fatal("non-updatable option accepted")
	}
	if _, ok, _ := ParsePushUpdate("PUSH_REPLY,route 1.2.3.4"); ok {
		t.Fatal("PUSH_REPLY taken for PUSH_UPDATE")
	}
}

// Updated replaces every value of each option it names, removes those
// named with "-", leaves the others and the original alone.
func TestPushOptionsUpdated(t *testing.T) {
	orig, err := ParsePushOptions([]string{
		"ifconfig 10.8.0.6 255.255.255.0", "topology subnet", "route-gateway 10.8.0.1",
		"route 10.1.0.0 255.255.0.0", "route 10.2.0.0 255.255.0.0", "dhcp-option DNS 10.0.0.2",
		"dhcp-option DOMAIN corp.example", "dns server 0 address 10.0.0.53", "ping 10", "ping-restart 60",
		"redirect-gateway def1", "tun-mtu 1500", "peer-id 3", "cipher AES-256-GCM",
	})
	if err != nil {
		t.Fatal(err)
	}
	var opts []UpdateOption
	for _, s := range []string{"route 192.0.2.0 255.255.255.0", "route 198.51.100.0 255.255.255.0", "-redirect-gateway",
		"-dns", "dhcp-option DNS 192.0.2.53", "tun-mtu 1400", "keepalive 5 30", "route-metric 7", "block-ipv6",
		"ifconfig 10.8.0.9 255.255.255.0", "redirect-private local"} {
		o, err := ParseUpdateOption(s)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, o)
	}
	n, err := orig.Updated(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Routes) != 2 || n.Routes[0].Dst.String() != "192.0.2.0/24" || n.Routes[1].Dst.String() != "198.51.100.0/24" {
		t.Errorf("routes %+v, want exactly the two new ones", n.Routes)
	}
	if n.RedirectGateway != nil || n.DNSOption != nil {
		t.Errorf("removed options still set: redirect %+v dns %+v", n.RedirectGateway, n.DNSOption)
	}
	if len(n.DNS) != 1 || n.DNS[0].String() != "192.0.2.53" || n.Domain != "" {
		t.Errorf("dhcp-option: DNS %v domain %q, want only the new server (all dhcp-option values replaced)", n.DNS, n.Domain)
	}
	if n.TunMTU != 1400 || n.Ping != 5 || n.PingRestart != 30 || n.RouteMetric != 7 || !n.BlockIPv6 {
		t.Errorf("mtu %d ping %d/%d metric %d block-ipv6 %v", n.TunMTU, n.Ping, n.PingRestart, n.RouteMetric, n.BlockIPv6)
	}
	if n.IfConfig.Local.String() != "10.8.0.9" || n.Topology != "subnet" || n.RouteGateway.String() != "10.8.0.1" || n.PeerID != 3 || n.Cipher != "AES-256-GCM" {
		t.Errorf("untouched options changed: %+v", n)
	}
	if len(orig.Routes) != 2 || orig.Routes[0].Dst.String() != "10.1.0.0/16" || orig.RedirectGateway == nil || orig.RedirectGateway.Local || orig.TunMTU != 1500 || orig.Ping != 10 {
		t.Errorf("the original changed: %+v %+v", orig, orig.RedirectGateway)
	}
	// A bad value is named; an update needing a netmask under subnet is
	// checked like a PUSH_REPLY.
	o, _ := ParseUpdateOption("ifconfig 10.8.0.9 10.8.0.10")
	if _, err := orig.Updated([]UpdateOption{o}); err == nil || !strings.Contains(err.Error(), "netmask") {
		t.Errorf("ifconfig without a netmask under topology subnet: %v", err)
	}
	o, _ = ParseUpdateOption("keepalive 5")
	if _, err := orig.Updated([]UpdateOption{o}); err == nil || !strings.Contains(err.Error(), "keepalive") {
		t.Errorf("keepalive with one argument: %v", err)
	}
}
