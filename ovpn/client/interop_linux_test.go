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
	creds   string // --auth-user-pass file content
	// wantCipher is the negotiated cipher the connected event must name.
	wantCipher string
}

func runInterop(t *testing.T, tc interopCase) {
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
	argv := []string{"env", "CVPN_HOME=" + home, bin, "connect", pf, "--json"}
	if tc.creds != "" {
		cf := filepath.Join(home, "creds.txt")
		if err := os.WriteFile(cf, []byte(tc.creds), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--auth-user-pass", cf)
	}
	start := time.Now()
	cl := nstest.Start(t, lab.Client, argv...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.WaitFor(ctx, `"state":"connected"`); err != nil {
		t.Fatalf("cvpn did not connect: %v\ncvpn output:\n%s\nserver log:\n%s", err, cl.Output(), srv.Log())
	}
	t.Logf("connected in %s", time.Since(start).Round(time.Millisecond))
	if tc.wantCipher != "" && !strings.Contains(cl.Output(), `"cipher":"`+tc.wantCipher+`"`) {
		t.Errorf("connected event does not name cipher %s:\n%s", tc.wantCipher, cl.Output())
	}
	if err := nstest.Ping(ctx, lab.Client, srv.TunnelIP()); err != nil {
		t.Fatalf("ping server tunnel address: %v\n%s", err, cl.Output())
	}
	if err := nstest.Ping(ctx, lab.Client, nstest.LANHostIP); err != nil {
		t.Fatalf("ping lan host through the tunnel: %v\n%s", err, cl.Output())
	}
	res, err := nstest.Transfer(ctx, lab.Client, lab.Server, srv.TunnelIP(), 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("20 MB upload: %v %s\n%s", err, res, cl.Output())
	}
	t.Logf("upload: %s", res)
	res, err = nstest.Transfer(ctx, lab.Server, lab.Client, tunnelIPv4(t, cl.Output()), 20<<20)
	if err != nil || !res.OK() {
		t.Fatalf("20 MB download: %v %s\n%s", err, res, cl.Output())
	}
	t.Logf("download: %s", res)
	if err := cl.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cl.Done():
	case <-ctx.Done():
		t.Fatalf("cvpn did not exit after SIGTERM:\n%s", cl.Output())
	}
	if st := cl.ExitStatus(); st != "exit status 0" && st != "0" {
		t.Errorf("exit status after a requested disconnect = %q, want 0\n%s", st, cl.Output())
	}
	if !strings.Contains(cl.Output(), `"state":"disconnected"`) {
		t.Errorf("no disconnected event:\n%s", cl.Output())
	}
	nstest.AssertUnchanged(t, before)
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
	cases := []interopCase{
		{name: "udp-aes256gcm-tlscrypt-cert", server: openvpntest.ServerConfig{Proto: "udp", Wrap: openvpntest.WrapTLSCrypt},
			profile: openvpntest.ProfileOptions{ClientCert: "client1"}, wantCipher: "AES-256-GCM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runInterop(t, tc) })
	}
}
