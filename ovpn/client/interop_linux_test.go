package client_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/openvpntest"
	"github.com/cvpn/cvpn/platform/nstest"
)

var (
	buildOnce sync.Once
	cvpnBin   string
	buildErr  error
)

// cvpnBinary builds cmd/cvpn once per test run.
func cvpnBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cvpn-bin-")
		if err != nil {
			buildErr = err
			return
		}
		cvpnBin = filepath.Join(dir, "cvpn")
		out, err := exec.Command("go", "build", "-o", cvpnBin, "github.com/cvpn/cvpn/cmd/cvpn").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return cvpnBin
}

// interopCase is one client-against-OpenVPN-server scenario.
type interopCase struct {
	name    string
	server  openvpntest.ServerConfig
	profile openvpntest.ProfileOptions
	creds   string   // --auth-user-pass file content
	env     []string // extra environment for cvpn
	// wantCipher and wantKD are what the connected event must name.
	wantCipher string
	wantKD     string
}

// running is a lab with an OpenVPN server and a connected cvpn client.
type running struct {
	lab    *nstest.Lab
	srv    *openvpntest.Server
	cl     *nstest.Proc
	before nstest.NSState
	ctx    context.Context
}

func startInterop(t *testing.T, tc interopCase) *running {
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{LAN: true, ResolvConf: "nameserver 198.18.0.53\n"})
	before := nstest.MustSnapshot(t, lab.Client)
	tc.server.NS = lab.Server
	tc.server.Listen = nstest.ServerIP
	if len(tc.server.PushRoutes) == 0 {
		tc.server.PushRoutes = []netip.Prefix{nstest.LANPrefix}
	}
	srv := openvpntest.StartServer(t, tc.server)
	prof, err := srv.ClientProfile(tc.profile)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"env", "CVPN_HOME=" + home}, tc.env...)
	argv = append(argv, bin, "connect", pf, "--json")
	if tc.creds != "" {
		cf := filepath.Join(home, "creds.txt")
		if err := os.WriteFile(cf, []byte(tc.creds), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--auth-user-pass", cf)
	}
	start := time.Now()
	cl := nstest.Start(t, lab.Client, argv...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	if err := cl.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("cvpn did not connect: %v\ncvpn output:\n%s\nserver log:\n%s", err, cl.Output(), srv.Log())
	}
	t.Logf("connected in %s", time.Since(start).Round(time.Millisecond))
	out := cl.Output()
	if tc.wantCipher != "" && !strings.Contains(out, `"cipher":"`+tc.wantCipher+`"`) {
		t.Errorf("connected event does not name cipher %s:\n%s", tc.wantCipher, out)
	}
	if tc.wantKD != "" && !strings.Contains(out, `"key_derivation":"`+tc.wantKD+`"`) {
		t.Errorf("connected event does not name key derivation %s:\n%s", tc.wantKD, out)
	}
	return &running{lab: lab, srv: srv, cl: cl, before: before, ctx: ctx}
}

// prove pings the server and the lan host through the tunnel and moves
// 20 MB each way with matching SHA-256 sums.
func (r *running) prove(t *testing.T) {
	t.Helper()
	if err := nstest.Ping(r.ctx, r.lab.Client, r.srv.TunnelIP()); err != nil {
		t.Fatalf("ping server tunnel address: %v\n%s", err, r.cl.Output())
	}
	if err := nstest.Ping(r.ctx, r.lab.Client, nstest.LANHostIP); err != nil {
		t.Fatalf("ping lan host through the tunnel: %v\n%s", err, r.cl.Output())
	}
	res, err := nstest.Transfer(r.ctx, r.lab.Client, r.lab.Server, r.srv.TunnelIP(), 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("20 MB upload: %v %s\n%s", err, res, r.cl.Output())
	}
	t.Logf("upload: %s", res)
	res, err = nstest.Transfer(r.ctx, r.lab.Server, r.lab.Client, tunnelIPv4(t, r.cl.Output()), 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("20 MB download: %v %s\n%s", err, res, r.cl.Output())
	}
	t.Logf("download: %s", res)
}

// stop disconnects with SIGTERM and checks the client namespace is exactly
// as it was before the connection.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if err := r.cl.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.cl.Done():
	case <-r.ctx.Done():
		t.Fatalf("cvpn did not exit after SIGTERM:\n%s", r.cl.Output())
	}
	if st := r.cl.ExitStatus(); st != "exit status 0" && st != "0" {
		t.Errorf("exit status after a requested disconnect = %q, want 0\n%s", st, r.cl.Output())
	}
	if !strings.Contains(r.cl.Output(), `"state":"disconnected"`) {
		t.Errorf("no disconnected event:\n%s", r.cl.Output())
	}
	nstest.AssertUnchanged(t, r.before)
}

// tunnelIPv4 reads the tunnel address from the connected event.
func tunnelIPv4(t *testing.T, out string) netip.Addr {
	t.Helper()
	i := strings.Index(out, `"tunnel_ipv4":"`)
	if i < 0 {
		t.Fatalf("no tunnel_ipv4 in:\n%s", out)
	}
	rest := out[i+len(`"tunnel_ipv4":"`):]
	a, err := netip.ParseAddr(rest[:strings.IndexByte(rest, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestInteropOpenVPNServer(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	users := []openvpntest.User{{Name: "alice", Password: "correct horse"}}
	mfa := []openvpntest.User{{Name: "bob", Password: "s3cret,with:odd chars", ChallengeResponse: "424242"}}
	prf := []string{"CVPN_KEY_DERIVATION=prf"}
	cases := []interopCase{
		{name: "udp-aes256gcm-tlscrypt-cert-ekm", server: openvpntest.ServerConfig{Proto: "udp", Wrap: openvpntest.WrapTLSCrypt},
			profile: openvpntest.ProfileOptions{ClientCert: "client1"}, wantCipher: "AES-256-GCM", wantKD: "tls-ekm"},
		{name: "tcp-aes128gcm-tlsauth-cert-prf", server: openvpntest.ServerConfig{Proto: "tcp", Wrap: openvpntest.WrapTLSAuth, DataCiphers: []string{"AES-128-GCM"}},
			profile: openvpntest.ProfileOptions{ClientCert: "client1"}, env: prf, wantCipher: "AES-128-GCM", wantKD: "prf"},
		{name: "udp-chacha20-userpass", server: openvpntest.ServerConfig{Proto: "udp", DataCiphers: []string{"CHACHA20-POLY1305"}, Users: users, NoClientCert: true},
			creds: "alice\ncorrect horse\n", wantCipher: "CHACHA20-POLY1305", wantKD: "tls-ekm"},
		{name: "udp-aes256cbc-sha256-tlsauth-static-challenge-prf", server: openvpntest.ServerConfig{Proto: "udp", Wrap: openvpntest.WrapTLSAuth,
			DataCiphers: []string{"AES-256-CBC"}, Auth: "SHA256", Users: mfa, NoClientCert: true},
			profile: openvpntest.ProfileOptions{StaticChallenge: "Enter MFA code ", StaticChallengeEcho: true},
			creds: "bob\ns3cret,with:odd chars\n424242\n", env: prf, wantCipher: "AES-256-CBC", wantKD: "prf"},
		{name: "tcp-aes256gcm-tlscrypt-cert-and-userpass", server: openvpntest.ServerConfig{Proto: "tcp", Wrap: openvpntest.WrapTLSCrypt, Users: users},
			profile: openvpntest.ProfileOptions{ClientCert: "client1"}, creds: "alice\ncorrect horse\n", wantCipher: "AES-256-GCM", wantKD: "tls-ekm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startInterop(t, tc)
			r.prove(t)
			r.stop(t)
		})
	}
}
