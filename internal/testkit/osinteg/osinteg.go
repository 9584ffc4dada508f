package osinteg

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/routing"
)

// EnvVar opts in to the tests that change this machine's routes and DNS.
const EnvVar = "CVPN_OS_INTEGRATION"

// The documentation prefixes the tests may route (RFC 5737, RFC 3849).
var (
	TestNet1 = netip.MustParsePrefix("192.0.2.0/24")
	TestNet2 = netip.MustParsePrefix("198.51.100.0/24")
	TestNet3 = netip.MustParsePrefix("203.0.113.0/24")
	TestNet6 = netip.MustParsePrefix("2001:db8::/32")
)

var testNets = []netip.Prefix{TestNet1, TestNet2, TestNet3, TestNet6}

// Require skips t, naming what, unless EnvVar is "1" and the process is
// root (macOS, Linux) or an elevated administrator (Windows).
func Require(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvVar) != "1" {
		t.Skipf("skipped %s: changes this machine's routes and DNS; set %s=1 (and run as %s) to run it", what, EnvVar, adminName)
	}
	if !isAdmin() {
		t.Skipf("skipped %s: needs %s", what, adminName)
	}
}

// InTestNet reports whether p lies inside a TEST-NET prefix.
func InTestNet(p netip.Prefix) bool {
	for _, n := range testNets {
		if n.Contains(p.Addr()) && p.Bits() >= n.Bits() {
			return true
		}
	}
	return false
}

// MustTestNet fails t unless every prefix is inside a TEST-NET prefix: the
// guard every test runs on what it is about to route.
func MustTestNet(t testing.TB, ps ...netip.Prefix) {
	t.Helper()
	for _, p := range ps {
		if !InTestNet(p) {
			t.Fatalf("%s is outside the TEST-NET prefixes; the OS integration tests route only 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32", p)
		}
	}
}

// Key is a route written the same way every time, for comparing tables.
func Key(r routing.Route) string {
	return fmt.Sprintf("%s via %s dev %s/%d table %d type %d proto %d", r.Dst, r.Gateway, r.Interface, r.IfIndex, r.Table, r.Type, r.Protocol)
}

// Keys returns the sorted keys of routes.
func Keys(routes []routing.Route) []string {
	out := make([]string, 0, len(routes))
	for _, r := range routes {
		out = append(out, Key(r))
	}
	slices.Sort(out)
	return out
}

// Relevant keeps the routes a test may have touched: those inside a
// TEST-NET prefix, those on the named interfaces and the default routes
// (which the tests must never change). The rest of a real machine's table
// changes on its own (router advertisements, DHCP, other software).
func Relevant(routes []routing.Route, ifnames ...string) []routing.Route {
	var out []routing.Route
	for _, r := range routes {
		if InTestNet(r.Dst) || r.Dst.Bits() == 0 || (r.Interface != "" && slices.Contains(ifnames, r.Interface)) {
			out = append(out, r)
		}
	}
	return out
}

// Diff describes how after differs from before ("" when equal).
func Diff(before, after []routing.Route) string {
	b, a := Keys(before), Keys(after)
	var sb strings.Builder
	for _, k := range b {
		if !slices.Contains(a, k) {
			fmt.Fprintf(&sb, "- %s\n", k)
		}
	}
	for _, k := range a {
		if !slices.Contains(b, k) {
			fmt.Fprintf(&sb, "+ %s\n", k)
		}
	}
	return sb.String()
}
