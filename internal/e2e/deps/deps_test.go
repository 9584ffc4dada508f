package deps

import (
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/deptest"
)

var platforms = []deptest.Platform{
	{GOOS: "linux", GOARCH: "amd64"},
	{GOOS: "darwin", GOARCH: "arm64"},
	{GOOS: "windows", GOARCH: "amd64"},
}

// harness reports whether a package is a harness kept beside product code
// (the xxxtest convention, like platform/platformtest); harnesses may use
// internal/testkit.
func harness(importPath string) bool { return strings.HasSuffix(path.Base(importPath), "test") }

// helpers are the product's shared leaf helpers under internal/ (one
// atomic file write, one netmask conversion, one ICMP echo packet): every layer may use them,
// and they import nothing of cvpn.
var helpers = []string{"internal/atomicfile", "internal/netmask", "internal/icmpecho"}

// protocol is the OpenVPN protocol core: pure Go, no OS, no app.
var protocol = []string{
	"ovpn/wire", "ovpn/reliable", "ovpn/tlswrap", "ovpn/control", "ovpn/keys", "ovpn/km2",
	"ovpn/datachannel", "ovpn/ctrlmsg", "ovpn/profile", "ovpn/transport", "ovpn/mssfix", "ovpn/clientapi",
	"ovpn/routeopt", "ovpn/statickey", "ovpn/handshake", "ovpn/dnsopt",
}

var rules = []deptest.Rule{
	{
		Why:  "the GUI and the IPC talk to the daemon only; they link neither the VPN client, the server, a session nor the OS layer (netlink, TUN), which run in the privileged daemon",
		Pkgs: []string{"cmd/cvpn-gui", "app/gui/...", "app/ipc"},
		Skip: harness,
		Forbid: []string{
			"ovpn/client", "ovpn/server", "app/session", "app/daemon", "platform",
			"github.com/vishvananda/netlink", "golang.zx2c4.com/wireguard/tun",
		},
	},
	{
		Why:    "the client is a library under the app: it knows neither the server nor the app around it",
		Pkgs:   []string{"ovpn/client"},
		Forbid: []string{"ovpn/server", "app"},
	},
	{
		Why:    "the server shares the protocol packages with the client, never the client itself, and knows nothing of the desktop app",
		Pkgs:   []string{"ovpn/server/..."},
		Skip:   harness,
		Forbid: []string{"ovpn/client", "app"},
	},
	{
		Why: "product code never imports a test harness (cmd/cvpn-demo and bench/ are tools and may)",
		Pkgs: []string{
			"ovpn/...", "routing/...", "platform/...", "samlflow/...", "app/...",
			"cmd/cvpn", "cmd/cvpn-gui",
		},
		Skip:   harness,
		Forbid: []string{"internal/testkit"},
	},
	{
		Why:  "the shared helpers are the bottom of the tree: they import nothing of cvpn",
		Pkgs: helpers,
		Only: []string{},
	},
	{
		Why: "leaves of the layering import nothing of cvpn but the shared helpers, the wire vocabulary (roles), the one route-option grammar, the one dns-option grammar and the one static-key parser: " +
			"the wire format, key material, control messages, profiles, transports, the client vocabulary, " +
			"the route model and the SAML constants",
		Pkgs: []string{"ovpn/wire", "ovpn/keys", "ovpn/ctrlmsg", "ovpn/profile", "ovpn/transport",
			"ovpn/mssfix", "ovpn/clientapi", "ovpn/routeopt", "ovpn/dnsopt", "ovpn/statickey", "routing", "samlflow"},
		Only: append([]string{"ovpn/wire", "ovpn/routeopt", "ovpn/dnsopt", "ovpn/statickey"}, helpers...),
	},
	{
		Why:  "the protocol core sits below everything else: it imports only protocol packages and the shared helpers (no platform, routing, SAML, client, server or app)",
		Pkgs: protocol,
		Only: append(append([]string{}, protocol...), helpers...),
	},
	{
		Why:  "the OS layer speaks the route model's vocabulary and nothing above it",
		Pkgs: []string{"platform/..."},
		Skip: harness,
		Only: append([]string{"platform", "routing"}, helpers...),
	},
	{
		Why:  "SAML sign-in is independent of the VPN: it imports only its own packages",
		Pkgs: []string{"samlflow/..."},
		Skip: harness,
		Only: []string{"samlflow"},
	},
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	deptest.Check(t, filepath.Dir(strings.TrimSpace(string(out))), platforms, rules)
}
