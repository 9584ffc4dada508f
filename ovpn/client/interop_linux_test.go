package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
)

// cvpnBinary builds cmd/cvpn once per test run.
func cvpnBinary(t *testing.T) string {
	return nstest.GoBuild(t, "github.com/cvpn/cvpn/cmd/cvpn")
}

// interopCase is one client-against-OpenVPN-server scenario.
type interopCase struct {
	name    string
	server  openvpnpeer.ServerConfig
	profile openvpnpeer.ProfileOptions
	creds   string // --auth-user-pass file content
	// profileExtra is appended to the generated profile (e.g. an inline key).
	profileExtra string
	env          []string // extra environment for cvpn
	// wantCipher and wantKD are what the connected event must name.
	wantCipher string
	wantKD     string
}

// running is a lab with an OpenVPN server and a connected cvpn client.
type running struct {
	lab    *nstest.Lab
	srv    *openvpnpeer.Server
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
	srv := openvpnpeer.StartServer(t, tc.server)
	prof, err := srv.ClientProfile(tc.profile)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(prof+tc.profileExtra), 0o600); err != nil {
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
	users := []openvpnpeer.User{{Name: "alice", Password: "correct horse"}}
	mfa := []openvpnpeer.User{{Name: "bob", Password: "s3cret,with:odd chars", ChallengeResponse: "424242"}}
	prf := []string{"CVPN_KEY_DERIVATION=prf"}
	cases := []interopCase{
		{name: "udp-aes256gcm-tlscrypt-cert-ekm", server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt},
			profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}, wantCipher: "AES-256-GCM", wantKD: "tls-ekm"},
		{name: "tcp-aes128gcm-tlsauth-cert-prf", server: openvpnpeer.ServerConfig{Proto: "tcp", Wrap: openvpnpeer.WrapTLSAuth, DataCiphers: []string{"AES-128-GCM"}},
			profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}, env: prf, wantCipher: "AES-128-GCM", wantKD: "prf"},
		{name: "udp-chacha20-userpass", server: openvpnpeer.ServerConfig{Proto: "udp", DataCiphers: []string{"CHACHA20-POLY1305"}, Users: users, NoClientCert: true},
			creds: "alice\ncorrect horse\n", wantCipher: "CHACHA20-POLY1305", wantKD: "tls-ekm"},
		{name: "udp-aes256cbc-sha256-tlsauth-static-challenge-prf", server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSAuth,
			DataCiphers: []string{"AES-256-CBC"}, Auth: "SHA256", Users: mfa, NoClientCert: true},
			profile: openvpnpeer.ProfileOptions{StaticChallenge: "Enter MFA code ", StaticChallengeEcho: true},
			creds:   "bob\ns3cret,with:odd chars\n424242\n", env: prf, wantCipher: "AES-256-CBC", wantKD: "prf"},
		{name: "tcp-aes256gcm-tlscrypt-cert-and-userpass", server: openvpnpeer.ServerConfig{Proto: "tcp", Wrap: openvpnpeer.WrapTLSCrypt, Users: users},
			profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}, creds: "alice\ncorrect horse\n", wantCipher: "AES-256-GCM", wantKD: "tls-ekm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := startInterop(t, tc)
			r.prove(t)
			r.stop(t)
		})
	}
}

// TestInteropRenegotiationMidTransfer has the server renegotiate every 2 s
// while data flows; every transfer must arrive intact.
func TestInteropRenegotiationMidTransfer(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			r := startInterop(t, interopCase{server: openvpnpeer.ServerConfig{Proto: proto, Wrap: openvpnpeer.WrapTLSCrypt, RenegSec: 2},
				profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}})
			deadline := time.Now().Add(7 * time.Second)
			n := 0
			for time.Now().Before(deadline) {
				res, err := nstest.Transfer(r.ctx, r.lab.Client, r.lab.Server, r.srv.TunnelIP(), 20<<20)
				if err != nil || !res.OK() {
					t.Fatalf("transfer %d during renegotiation: %v %s\n%s\nserver:\n%s", n, err, res, r.cl.Output(), r.srv.Log())
				}
				n++
			}
			if c := strings.Count(r.srv.Log(), "TLS: soft reset"); c < 2 {
				t.Fatalf("server renegotiated %d times in 7 s, want at least 2\n%s", c, r.srv.Log())
			}
			t.Logf("%d transfers of 20 MB across %d renegotiations", n, strings.Count(r.srv.Log(), "TLS: soft reset"))
			r.prove(t)
			r.stop(t)
		})
	}
}

// TestInteropServerRestart kills the server (no goodbye), starts it again
// and expects the client to notice the dead peer and reconnect by itself.
func TestInteropServerRestart(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			cfg := openvpnpeer.ServerConfig{Proto: proto, Wrap: openvpnpeer.WrapTLSCrypt, Keepalive: [2]int{1, 4}}
			r := startInterop(t, interopCase{server: cfg, profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}})
			if err := r.srv.Proc.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-r.srv.Proc.Done()
			killed := time.Now()
			time.Sleep(time.Second)
			cfg2 := r.srv.Config // same PKI, port and addresses
			srv2 := openvpnpeer.StartServer(t, cfg2)
			r.srv = srv2
			// Wait for a second connected event.
			for {
				if strings.Count(r.cl.Output(), `"state":"connected"`) >= 2 {
					break
				}
				select {
				case <-r.ctx.Done():
					t.Fatalf("client did not reconnect:\n%s\nserver:\n%s", r.cl.Output(), srv2.Log())
				case <-time.After(100 * time.Millisecond):
				}
			}
			t.Logf("reconnected %s after the server was killed", time.Since(killed).Round(time.Millisecond))
			if !strings.Contains(r.cl.Output(), `"state":"reconnecting"`) {
				t.Errorf("no reconnecting event:\n%s", r.cl.Output())
			}
			r.prove(t)
			r.stop(t)
		})
	}
}

// TestInteropAuthFailed: a wrong password ends with exit status 3, a plain
// message, and nothing left behind.
func TestInteropAuthFailed(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn")
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{})
	before := nstest.MustSnapshot(t, lab.Client)
	srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP,
		Users: []openvpnpeer.User{{Name: "alice", Password: "right"}}, NoClientCert: true})
	prof, _ := srv.ClientProfile(openvpnpeer.ProfileOptions{})
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	cf := filepath.Join(home, "creds")
	os.WriteFile(pf, []byte(prof), 0o600)
	os.WriteFile(cf, []byte("alice\nwrong\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := nstest.Run(ctx, lab.Client, "env", "CVPN_HOME="+home, bin, "connect", pf, "--auth-user-pass", cf)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit = %v, want status 3\n%s", err, out)
	}
	if !strings.Contains(out, "refused") {
		t.Errorf("output does not explain the refusal:\n%s", out)
	}
	if strings.Contains(out, "wrong") {
		t.Errorf("the password appears in the output:\n%s", out)
	}
	nstest.AssertUnchanged(t, before)
}

// TestInteropHostilePush: a server pushing an invalid route never gets a
// tunnel configured; the client says which option it refused, keeps
// trying, and leaves nothing behind when stopped.
func TestInteropHostilePush(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn")
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{})
	before := nstest.MustSnapshot(t, lab.Client)
	srv := openvpnpeer.StartServer(t, openvpnpeer.ServerConfig{NS: lab.Server, Listen: nstest.ServerIP,
		Push: []string{"route 10.0.0.0 255.0.255.0"}})
	prof, _ := srv.ClientProfile(openvpnpeer.ProfileOptions{ClientCert: "client1"})
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	os.WriteFile(pf, []byte(prof), 0o600)
	cl := nstest.Start(t, lab.Client, "env", "CVPN_HOME="+home, bin, "connect", pf, "--json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.WaitFor(ctx, `route 10.0.0.0 255.0.255.0`); err != nil {
		t.Fatalf("no error naming the refused option: %v\n%s", err, cl.Output())
	}
	if strings.Contains(cl.Output(), `"state":"connected"`) {
		t.Fatalf("connected despite an invalid pushed route:\n%s", cl.Output())
	}
	cl.Signal(syscall.SIGTERM)
	select {
	case <-cl.Done():
	case <-ctx.Done():
		t.Fatal("cvpn did not stop")
	}
	nstest.AssertUnchanged(t, before)
}

// TestInteropClientRenegotiationAndAuthToken: the client renegotiates by
// itself (reneg-sec in the profile) and authenticates renegotiations and a
// reconnect with the pushed auth-token, so the one-time code is asked once.
func TestInteropClientRenegotiationAndAuthToken(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	mfa := []openvpnpeer.User{{Name: "carol", Password: "pw", ChallengeResponse: "111111"}}
	r := startInterop(t, interopCase{
		server: openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt, Users: mfa, NoClientCert: true,
			Keepalive: [2]int{1, 4}, Extra: []string{"auth-gen-token 0"}, PushDNS: []netip.Addr{netip.MustParseAddr("198.19.0.53")}},
		profile: openvpnpeer.ProfileOptions{StaticChallenge: "Code", Extra: []string{"reneg-sec 2"}},
		creds:   "carol\npw\n111111\n",
	})
	// The pushed DNS server is in the namespace's resolv.conf while connected.
	if rc, err := os.ReadFile(nstest.ResolvConfPath(r.lab.Client)); err != nil || !strings.Contains(string(rc), "198.19.0.53") {
		t.Errorf("resolv.conf while connected does not name the pushed DNS server: %v\n%s", err, rc)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 20*time.Second)
	defer cancel()
	for strings.Count(r.srv.Log(), "auth-token authentication succeeded") < 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("client did not renegotiate twice:\n%s", r.srv.Log())
		case <-time.After(200 * time.Millisecond):
		}
	}
	r.prove(t)
	if got := r.srv.AuthLog(); len(got) != 1 || got[0] != "ok carol" {
		t.Errorf("verify script calls = %v, want exactly one (renegotiations must use the auth-token)", got)
	}
	r.stop(t)
}

// TestInteropRemotesInOrder: the first remote refuses connections; the
// client moves on to the next one.
func TestInteropRemotesInOrder(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "ping")
	r := startInterop(t, interopCase{
		server:  openvpnpeer.ServerConfig{Proto: "tcp"},
		profile: openvpnpeer.ProfileOptions{ClientCert: "client1", Extra: []string{"remote 198.18.0.2 1 tcp"}},
	})
	out := r.cl.Output()
	if i, j := strings.Index(out, "198.18.0.2:1"), strings.Index(out, `"state":"connected"`); i < 0 || i > j {
		t.Errorf("the first remote was not tried first:\n%s", out)
	}
	r.prove(t)
	r.stop(t)
}

// TestInteropTransferResumesAcrossServerRestart: a TCP transfer through the
// tunnel is running when the server is killed and started again; the client
// reconnects by itself and the same transfer carries on to the end.
func TestInteropTransferResumesAcrossServerRestart(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "openvpn", "iperf3")
	cfg := openvpnpeer.ServerConfig{Proto: "udp", Wrap: openvpnpeer.WrapTLSCrypt, Keepalive: [2]int{1, 4}}
	r := startInterop(t, interopCase{server: cfg, profile: openvpnpeer.ProfileOptions{ClientCert: "client1"}})
	srvIP := r.srv.TunnelIP()
	iperfSrv := nstest.Start(t, r.lab.Server, "iperf3", "-s", "-1")
	time.Sleep(300 * time.Millisecond)
	// 14 s at 20 Mbit/s, one report per second.
	iperfCl := nstest.Start(t, r.lab.Client, "iperf3", "-c", srvIP.String(), "-t", "14", "-b", "20M", "-J")
	time.Sleep(3 * time.Second)
	if err := r.srv.Proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.srv.Proc.Done()
	time.Sleep(time.Second)
	r.srv = openvpnpeer.StartServer(t, r.srv.Config)
	ctx, cancel := context.WithTimeout(r.ctx, 40*time.Second)
	defer cancel()
	select {
	case <-iperfCl.Done():
	case <-ctx.Done():
		t.Fatalf("iperf3 did not finish:\n%s\ncvpn:\n%s", iperfCl.Output(), r.cl.Output())
	}
	iperfSrv.Stop(time.Second)
	var res struct {
		Intervals []struct {
			Sum struct {
				Start float64 `json:"start"`
				Bytes int64   `json:"bytes"`
			} `json:"sum"`
		} `json:"intervals"`
		End struct {
			SumReceived struct {
				Bytes int64 `json:"bytes"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	out := iperfCl.Output()
	if i := strings.Index(out, "{"); i >= 0 {
		out = out[i:]
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Error != "" {
		t.Fatalf("iperf3 result: %v %s\n%s", err, res.Error, iperfCl.Output())
	}
	var before, after int64
	for _, iv := range res.Intervals {
		if iv.Sum.Start < 3 {
			before += iv.Sum.Bytes
		}
		if iv.Sum.Start >= 10 {
			after += iv.Sum.Bytes
		}
	}
	if strings.Count(r.cl.Output(), `"state":"connected"`) < 2 {
		t.Fatalf("the client did not reconnect:\n%s", r.cl.Output())
	}
	if before == 0 || after == 0 || res.End.SumReceived.Bytes == 0 {
		t.Fatalf("transfer did not resume: %d bytes before the kill, %d bytes in the last seconds, %d received\n%s", before, after, res.End.SumReceived.Bytes, iperfCl.Output())
	}
	t.Logf("one TCP transfer across a server restart: %d bytes before the kill, %d bytes after reconnecting, %d received in all", before, after, res.End.SumReceived.Bytes)
	r.stop(t)
}
