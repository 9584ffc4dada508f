package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
)

// cvpnBinary builds cmd/cvpn once per test run.
func cvpnBinary(t *testing.T) string {
	return nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn")
}

// labServer is our server running in a lab's server namespace.
type labServer struct {
	lab  *nstest.Lab
	dir  string
	cfg  string // server.toml path
	proc *nstest.Proc
}

// serverSpec tweaks the generated server.toml.
type serverSpec struct {
	transport  string // udp (default) | tcp
	ciphers    []string
	auth       string
	wrap       string // "", "tls-auth", "tls-crypt", "tls-crypt-v2"
	v2MaxAge   int    // tls.tls_crypt_v2_max_age (days), with wrap tls-crypt-v2
	mutual     *bool
	users      string // users.toml content
	split      bool
	banner     string
	enforce    bool
	rules      []config.RuleFile
	handlerCmd []string
	crl        string // file name in pki/
	extra      string // appended TOML (top-level keys must go in "top")
	top        string // top-level keys inserted before the first table
	// prepare runs on the lab folder before the server starts.
	prepare func(t *testing.T, dir string)
	// prepareLab is prepare with the lab (namespaces exist already).
	prepareLab func(t *testing.T, lab *nstest.Lab, dir string)
	// samlMetadata is authentication.saml_idp_metadata (a file in the lab folder).
	samlMetadata string
	// noMetrics and noAdmin leave out the [metrics] and [admin] sections.
	noMetrics, noAdmin bool
	// webAuth sets authentication.web_auth (the server's sign-in page).
	webAuth bool
}

// Addresses of the lab server's metrics endpoint (in the server
// namespace) and admin socket (relative to the lab folder).
const (
	labMetricsListen = "127.0.0.1:9464"
	labAdminSocket   = "admin.sock"
)

func boolp(b bool) *bool { return &b }

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// newLabServer makes a lab with a LAN, a server config from spec and
// starts `cvpn server run` in the server namespace.
func newLabServer(t *testing.T, spec serverSpec) *labServer {
	t.Helper()
	nstest.RequireRoot(t)
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{LAN: true})
	dir := t.TempDir()
	if _, err := export.InitLab(dir, export.InitOptions{PublicAddress: nstest.ServerIP.String(), Listen: nstest.ServerIP.String() + ":1194"}); err != nil {
		t.Fatal(err)
	}
	ls := &labServer{lab: lab, dir: dir, cfg: filepath.Join(dir, "server.toml")}
	if spec.prepare != nil {
		spec.prepare(t, dir)
	}
	if spec.prepareLab != nil {
		spec.prepareLab(t, lab, dir)
	}
	ls.writeConfig(t, spec)
	ls.proc = nstest.Start(t, lab.Server, bin, "server", "run", "--config", ls.cfg, "--verbose")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := ls.proc.WaitFor(ctx, "listening on"); err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server output:\n%s", ls.proc.Output())
		}
	})
	return ls
}

func (ls *labServer) writeConfig(t *testing.T, spec serverSpec) {
	t.Helper()
	if spec.transport == "" {
		spec.transport = "udp"
	}
	if len(spec.ciphers) == 0 {
		spec.ciphers = config.DefaultDataCiphers
	}
	mutual := true
	if spec.mutual != nil {
		mutual = *spec.mutual
	}
	usersFile := ""
	if spec.users != "" {
		usersFile = "users.toml"
		if err := os.WriteFile(filepath.Join(ls.dir, usersFile), []byte(spec.users), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(spec.rules) == 0 {
		spec.rules = []config.RuleFile{{Destination: "0.0.0.0/0"}}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "endpoint_id = \"cvpn-endpoint-test\"\nlisten = %q\ntransport = %q\npublic_address = %q\nclient_cidr = \"10.100.0.0/22\"\n",
		nstest.ServerIP.String()+":1194", spec.transport, nstest.ServerIP.String())
	fmt.Fprintf(&b, "split_tunnel = %v\ndata_ciphers = %s\nlogin_banner = %q\nclient_route_enforcement = %v\n", spec.split, quoteList(spec.ciphers), spec.banner, spec.enforce)
	if spec.auth != "" {
		fmt.Fprintf(&b, "auth = %q\n", spec.auth)
	}
	b.WriteString(spec.top)
	wrapKey := map[string]string{"": "", "tls-auth": "pki/ta.key", "tls-crypt": "pki/tls-crypt.key"}
	ta, tc := "", ""
	switch spec.wrap {
	case "tls-auth":
		ta = wrapKey[spec.wrap]
	case "tls-crypt-v2":
	default:
		tc = wrapKey[spec.wrap]
	}
	crl := ""
	if spec.crl != "" {
		crl = "pki/" + spec.crl
	}
	fmt.Fprintf(&b, "\n[tls]\nca = \"pki/ca.crt\"\ncert = \"pki/server.crt\"\nkey = \"pki/server.key\"\ncrl = %q\ntls_auth = %q\ntls_crypt = %q\n", crl, ta, tc)
	if spec.wrap == "tls-crypt-v2" {
		fmt.Fprintf(&b, "tls_crypt_v2 = \"pki/tls-crypt-v2-server.key\"\ntls_crypt_v2_max_age = %d\n", spec.v2MaxAge)
	}
	fmt.Fprintf(&b, "\n[authentication]\nmutual = %v\nusers_file = %q\nsaml_idp_metadata = %q\n", mutual, usersFile, spec.samlMetadata)
	if spec.webAuth {
		b.WriteString("web_auth = true\n")
	}
	if spec.split {
		fmt.Fprintf(&b, "\n[[routes]]\ndestination = %q\n", nstest.LANPrefix.String())
	}
	for _, r := range spec.rules {
		fmt.Fprintf(&b, "\n[[authorization_rules]]\ndestination = %q\naccess_group = %q\n", r.Destination, r.AccessGroup)
	}
	if len(spec.handlerCmd) > 0 {
		fmt.Fprintf(&b, "\n[client_connect_handler]\ncommand = %s\n", quoteList(spec.handlerCmd))
	}
	b.WriteString("\n[connection_log]\npath = \"connections.log\"\n")
	if !spec.noMetrics {
		fmt.Fprintf(&b, "\n[metrics]\nlisten = %q\n", labMetricsListen)
	}
	if !spec.noAdmin {
		fmt.Fprintf(&b, "\n[admin]\nsocket = %q\n", labAdminSocket)
	}
	b.WriteString(spec.extra)
	if err := os.WriteFile(ls.cfg, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(ls.cfg); err != nil {
		t.Fatalf("test config does not load: %v\n%s", err, b.String())
	}
}

// profile runs export-client-config.
func (ls *labServer) profile(t *testing.T, client string) string {
	t.Helper()
	args := []string{"server", "export-client-config", "--config", ls.cfg}
	if client != "" {
		args = append(args, "--client", client)
	}
	out, err := exec.Command(cvpnBinary(t), args...).Output()
	if err != nil {
		t.Fatalf("export-client-config: %v", err)
	}
	return string(out)
}

// serverTunnelIP is the first address of the client CIDR.
var serverTunnelIP = netip.MustParseAddr("10.100.0.1")

// proveTraffic pings the LAN host and moves 20 MB each way.
func proveTraffic(t *testing.T, lab *nstest.Lab, clientIP netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, lab.Client, serverTunnelIP); err != nil {
		t.Fatalf("ping server tunnel address: %v", err)
	}
	if err := nstest.Ping(ctx, lab.Client, nstest.LANHostIP); err != nil {
		t.Fatalf("ping lan host through the tunnel: %v", err)
	}
	// Full-size TCP segments must fit the outer path once encapsulated
	// (mssfix 1492 mtu, OpenVPN 2.6's default): neither end may fragment
	// the tunnel's packets on the 1500-byte link between the namespaces.
	frags := func() [2]uint64 {
		var v [2]uint64
		for i, ns := range []string{lab.Client, lab.Server} {
			n, err := nstest.IPStat(ctx, ns, "FragCreates")
			if err != nil {
				t.Fatal(err)
			}
			v[i] = n
		}
		return v
	}
	before := frags()
	defer func() {
		if t.Failed() {
			return
		}
		if after := frags(); after != before {
			t.Errorf("the tunnel's packets were fragmented on the outer path: IPv4 fragments created in the client namespace %d, in the server namespace %d (want 0: the MSS clamp must leave room for the encapsulation)",
				after[0]-before[0], after[1]-before[1])
		}
	}()
	res, err := nstest.Transfer(ctx, lab.Client, lab.LAN, nstest.LANHostIP, 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("20 MB upload to the lan host: %v %s", err, res)
	}
	t.Logf("upload: %s", res)
	if clientIP.IsValid() {
		res, err = nstest.Transfer(ctx, lab.LAN, lab.Client, clientIP, 20<<20)
		if err != nil || !res.OK() {
			t.Fatalf("20 MB download from the lan host: %v %s", err, res)
		}
		t.Logf("download: %s", res)
	}
}
