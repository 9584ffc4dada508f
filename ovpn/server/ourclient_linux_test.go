package server_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
)

// cvpnClient runs `cvpn connect --json` in the lab's client namespace.
type cvpnClient struct {
	proc *nstest.Proc
}

func startCVPN(t *testing.T, ls *labServer, profile, creds string) *cvpnClient {
	t.Helper()
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := []string{"env", "CVPN_HOME=" + home, cvpnBinary(t), "connect", pf, "--json"}
	if creds != "" {
		cf := filepath.Join(home, "creds.txt")
		if err := os.WriteFile(cf, []byte(creds), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--auth-user-pass", cf)
	}
	c := &cvpnClient{proc: nstest.Start(t, ls.lab.Client, argv...)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cvpn client output:\n%s", c.proc.Output())
		}
	})
	return c
}

var reTunnelIP = regexp.MustCompile(`"tunnel_ipv4":"([0-9.]+)"`)

func (c *cvpnClient) waitConnected(t *testing.T) netip.Addr {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := c.proc.WaitMatch(ctx, reTunnelIP)
	if err != nil {
		t.Fatalf("cvpn did not connect: %v", err)
	}
	return netip.MustParseAddr(m[1])
}

func (c *cvpnClient) disconnect(t *testing.T) {
	t.Helper()
	if err := c.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.proc.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("cvpn did not exit after SIGTERM")
	}
	if !strings.Contains(c.proc.Output(), `"state":"disconnected"`) {
		t.Errorf("no disconnected event")
	}
}

func TestOurClientAgainstOurServer(t *testing.T) {
	cases := []struct {
		name  string
		spec  serverSpec
		creds string
		extra string // appended to the exported profile
	}{
		{name: "udp-tlscrypt-cert-banner-enforcement", spec: serverSpec{wrap: "tls-crypt", split: true, banner: "Welcome to the lab ✓ — authorized use only", enforce: true}},
		{name: "tcp-chacha-userpass", spec: serverSpec{transport: "tcp", ciphers: []string{"CHACHA20-POLY1305"}, users: "-"}, creds: "alice\npw-alice\n"},
		{name: "udp-aes128gcm-tlsauth-cert", spec: serverSpec{wrap: "tls-auth", ciphers: []string{"AES-128-GCM"}}},
		{name: "tcp-aes256cbc-sha256-tlscrypt-cert", spec: serverSpec{transport: "tcp", wrap: "tls-crypt", ciphers: []string{"AES-256-CBC"}, auth: "SHA256"}},
		// A client that does not clamp: the server's own clamp must keep
		// the tunnel's packets unfragmented (proveTraffic checks).
		{name: "udp-client-mssfix-0", spec: serverSpec{wrap: "tls-crypt"}, extra: "mssfix 0\n"},
		{name: "udp-cert-userpass-totp-static-challenge", spec: serverSpec{wrap: "tls-crypt", users: "totp", mutual: boolp(true)}, creds: "carol\npw-carol\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.spec.users {
			case "-":
				tc.spec.users = usersTOML(t, false)
			case "totp":
				tc.spec.users = usersTOML(t, true)
				tc.creds += totpNow(t) + "\n"
			}
			ls := newLabServer(t, tc.spec)
			before := nstest.MustSnapshot(t, ls.lab.Client)
			cl := startCVPN(t, ls, ls.profile(t, "")+tc.extra, tc.creds)
			ip := cl.waitConnected(t)
			if tc.spec.banner != "" {
				want, _ := json.Marshal(tc.spec.banner)
				if !strings.Contains(cl.proc.Output(), `"event":"banner"`) || !strings.Contains(cl.proc.Output(), string(want[1:len(want)-1])) {
					t.Errorf("no banner event with %s", want)
				}
			}
			if tc.spec.enforce {
				// A route stealing part of the VPN's LAN route must be removed.
				nstest.MustRun(t, ls.lab.Client, "ip", "route", "add", "198.19.0.128/25", "via", nstest.ServerIP.String())
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := cl.proc.WaitFor(ctx, `"event":"route-enforced"`)
				cancel()
				if err != nil {
					t.Errorf("route enforcement switch not honoured: %v", err)
				}
			}
			proveTraffic(t, ls.lab, ip)
			cl.disconnect(t)
			if tc.spec.enforce {
				exec.Command("ip", "-n", ls.lab.Client, "route", "del", "198.19.0.128/25").Run()
			}
			nstest.AssertUnchanged(t, before)
		})
	}
}
