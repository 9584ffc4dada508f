package client_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

// start27 starts an OpenVPN 2.7 server with cfg and cvpn connect against
// it (profile from the server plus extra text, credentials file creds).
func start27(t *testing.T, cfg openvpnpeer.ServerConfig, opts openvpnpeer.ProfileOptions, extra, creds string, args ...string) (*openvpnpeer.Server, *nstest.Proc) {
	t.Helper()
	nstest.RequireRoot(t)
	openvpnpeer.Require27(t)
	bin := cvpnBinary(t)
	lab := nstest.New(t, nstest.Options{})
	cfg.NS, cfg.Listen, cfg.Version = lab.Server, nstest.ServerIP, openvpnpeer.V27
	srv := openvpnpeer.StartServer(t, cfg)
	prof, err := srv.ClientProfile(opts)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	pf := filepath.Join(home, "lab.ovpn")
	if err := os.WriteFile(pf, []byte(prof+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"env", "CVPN_HOME=" + home, bin, "connect", pf, "--json"}, args...)
	if creds != "" {
		cf := filepath.Join(home, "creds")
		if err := os.WriteFile(cf, []byte(creds), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--auth-user-pass", cf)
	}
	return srv, nstest.Start(t, lab.Client, argv...)
}

// TestOpenVPN27TempAuthFailure: an OpenVPN 2.7 server answers
// AUTH_FAILED,TEMP[backoff 3,advance no]; cvpn shows the server's text at
// once as a temporary failure, keeps the credentials (no new prompt), and
// tries again no sooner than the server's backoff.
func TestOpenVPN27TempAuthFailure(t *testing.T) {
	users := []openvpnpeer.User{{Name: "bob", Password: "pw", FailReason: "TEMP[backoff 3,advance no]: maintenance window"}}
	srv, cl := start27(t, openvpnpeer.ServerConfig{Users: users, NoClientCert: true}, openvpnpeer.ProfileOptions{}, "", "bob\npw\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := cl.WaitFor(ctx, "maintenance window"); err != nil {
		t.Fatalf("no error naming the server's reason: %v\n%s\nserver:\n%s", err, cl.Output(), srv.Log())
	}
	shown := time.Since(start)
	if shown > 10*time.Second {
		t.Errorf("the temporary failure was shown after %s, want at once", shown)
	}
	// The error event and the reconnecting state that follows it (the
	// stderr log line may come first).
	if err := cl.WaitFor(ctx, `"detail":"retrying in 3s"`); err != nil {
		t.Fatalf("no retry announced after the server's backoff of 3 s: %v", err)
	}
	if out := cl.Output(); !strings.Contains(out, `"event":"error","message":"198.18.0.2:1194 refused the connection for now (temporary failure`) {
		t.Errorf("the error event does not say the failure is temporary:\n%s", out)
	}
	first := time.Now()
	for len(srv.AuthLog()) < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("cvpn did not retry after the backoff: auth log %q\n%s", srv.AuthLog(), cl.Output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if gap := time.Since(first); gap < 2500*time.Millisecond {
		t.Errorf("retried %s after the TEMP failure, want at least the server's backoff of 3 s", gap)
	}
	if got := srv.AuthLog(); got[0] != "fail bob" || got[1] != "fail bob" {
		t.Errorf("auth log %q: want the same user retried", got)
	}
	if strings.Contains(cl.Output(), `"state":"disconnected"`) {
		t.Errorf("cvpn gave up on a temporary failure:\n%s", cl.Output())
	}
}

// TestOpenVPN27TLSAlert: an OpenVPN 2.7 server (TCP) refuses the client's
// certificate (signed by a CA it does not trust) with a TLS alert; cvpn
// says so at once, in words, instead of timing out the handshake.
//
// Over UDP, OpenVPN 2.7.8 prepares the alert but frees the session before
// it is sent (its verb 9 log shows no write after "Sent fatal SSL alert"),
// so no client can see it; cvpn then times out like OpenVPN's own client.
func TestOpenVPN27TLSAlert(t *testing.T) {
	other, err := pki.Generate(pki.Spec{CAName: "some other CA", Clients: []string{"stranger"}})
	if err != nil {
		t.Fatal(err)
	}
	c := other.Client("stranger")
	extra := "<cert>\n" + string(c.CertPEM) + "</cert>\n<key>\n" + string(c.KeyPEM) + "</key>\n"
	srv, cl := start27(t, openvpnpeer.ServerConfig{Wrap: openvpnpeer.WrapTLSCrypt, Proto: "tcp"}, openvpnpeer.ProfileOptions{}, extra, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := cl.WaitFor(ctx, `"event":"error"`); err != nil {
		t.Fatalf("no error naming the certificate: %v\n%s\nserver:\n%s", err, cl.Output(), srv.Log())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the refusal was shown after %s, want at once", d)
	}
	if out := cl.Output(); !strings.Contains(out, "the server requires a client certificate it trusts") || !strings.Contains(out, "certificate required") {
		t.Errorf("the error does not explain the refused certificate:\n%s", out)
	}
}
