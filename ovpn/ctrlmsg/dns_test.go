package ctrlmsg

import (
	"strings"
	"testing"
)

// TestPushedDNSOption: what an OpenVPN 2.7 server pushes (captured from
// 2.7.8 in TestOpenVPN27Pair's lab) parses, round-trips through Options,
// and bad values name the option.
func TestPushedDNSOption(t *testing.T) {
	opts := []string{"dhcp-option DNS 198.18.0.1", "dns server 0 address 192.0.2.53 [2001:db8::53]:5353",
		"dns server 0 resolve-domains corp.example", "dns search-domains corp.example", "ifconfig 10.8.0.2 255.255.255.0", "topology subnet"}
	p, err := ParsePushOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := p.DNSOption.Active()
	if !ok || len(a.Addresses) != 2 || a.Addresses[1].Port() != 5353 || a.ResolveDomains[0] != "corp.example" {
		t.Fatalf("dns option = %+v", p.DNSOption)
	}
	if len(p.DNS) != 1 || len(p.Ignored) != 0 {
		t.Errorf("dhcp-option DNS = %v, ignored = %v", p.DNS, p.Ignored)
	}
	got := strings.Join(p.Options(), "\n")
	for _, want := range []string{"dns server 0 address 192.0.2.53 [2001:db8::53]:5353", "dns server 0 resolve-domains corp.example", "dns search-domains corp.example"} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered options lack %q:\n%s", want, got)
		}
	}
	for _, tc := range []struct{ opt, want string }{
		{"dns server -1 address 192.0.2.53", `pushed option "dns server -1 address 192.0.2.53": server id "-1": want a number from 0 to 127`},
		{"dns server 0 transport QUIC", `transport "QUIC"`},
		{"dns server 3 resolve-domains corp.example", `pushed option "dns": dns server 3 has no address`},
	} {
		if _, err := ParsePushOptions([]string{tc.opt}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.opt, err, tc.want)
		}
	}
}

func TestAuthFailedTempHint(t *testing.T) {
	m, err := Parse("AUTH_FAILED,TEMP[backoff 42,advance no]: No free IP addresses")
	if err != nil {
		t.Fatal(err)
	}
	af := m.(AuthFailed)
	if h := af.Hint(); !af.Temp || h.Backoff.Seconds() != 42 || h.Advance != "no" || strings.TrimSpace(af.Reason) != "No free IP addresses" {
		t.Errorf("%+v hint %+v", af, h)
	}
	for flags, want := range map[string]float64{"backoff x": 0, "backoff -3": 0, "backoff 99999999": 3600, "": 0} {
		if got := (AuthFailed{Temp: true, TempFlags: flags}).Hint().Backoff.Seconds(); got != want {
			t.Errorf("%q: backoff %vs, want %vs", flags, got, want)
		}
	}
}
