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
