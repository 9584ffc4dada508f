package osinteg

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/routing"
)

func TestInTestNet(t *testing.T) {
	for s, want := range map[string]bool{
		"192.0.2.0/24": true, "198.51.100.128/25": true, "203.0.113.7/32": true, "2001:db8:1::/48": true,
		"0.0.0.0/0": false, "0.0.0.0/1": false, "198.51.0.0/16": false, "10.0.0.0/8": false, "2000::/3": false,
	} {
		if got := InTestNet(netip.MustParsePrefix(s)); got != want {
			t.Errorf("InTestNet(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestRelevantAndDiff(t *testing.T) {
	r := func(dst, dev string) routing.Route {
		return routing.Route{Dst: netip.MustParsePrefix(dst), Interface: dev}
	}
	before := []routing.Route{r("0.0.0.0/0", "en0"), r("10.1.0.0/16", "en0"), r("198.51.100.0/24", "utun9")}
	after := []routing.Route{r("0.0.0.0/0", "en0"), r("10.2.0.0/16", "en0"), r("203.0.113.0/24", "en0"), r("172.16.0.0/12", "utun7")}
	rb, ra := Relevant(before, "utun7"), Relevant(after, "utun7")
	if len(rb) != 2 || len(ra) != 3 {
		t.Fatalf("relevant %v / %v", rb, ra)
	}
	d := Diff(rb, ra)
	for _, want := range []string{"- 198.51.100.0/24", "+ 203.0.113.0/24", "+ 172.16.0.0/12"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "10.") || Diff(rb, rb) != "" {
		t.Errorf("diff:\n%s", d)
	}
}

func TestRequireSkipsWithoutOptIn(t *testing.T) {
	if os.Getenv(EnvVar) == "1" {
		t.Skip("opted in")
	}
	ran := t.Run("inner", func(t *testing.T) {
		Require(t, "the inner test")
		t.Error("Require did not skip")
	})
	if !ran {
		t.Error("inner test failed")
	}
}
