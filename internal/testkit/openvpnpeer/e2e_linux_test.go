package openvpnpeer

import (
	"bufio"
	"context"
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/server/pki"
)

func TestCiphersAndWraps(t *testing.T) {
	for _, tc := range []struct {
		name          string
		wrap          TLSWrap
		server, offer []string
		auth, want    string
	}{
		{"tls-auth/AES-128-GCM", WrapTLSAuth, nil, []string{"AES-128-GCM"}, "", "AES-128-GCM"},
		{"none/CHACHA20-POLY1305", WrapNone, nil, []string{"CHACHA20-POLY1305"}, "", "CHACHA20-POLY1305"},
		{"tls-crypt/AES-256-CBC", WrapTLSCrypt, []string{"AES-256-GCM", "AES-256-CBC"}, []string{"AES-256-CBC"}, "SHA256", "AES-256-CBC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab := nstest.New(t, nstest.Options{})
			srv := StartServer(t, ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Wrap: tc.wrap, DataCiphers: tc.server, Auth: tc.auth})
			profile, err := srv.ClientProfile(ProfileOptions{ClientCert: "client2"})
			if err != nil {
				t.Fatal(err)
			}
			cl := Connect(t, ClientConfig{NS: lab.Client, Profile: profile, Args: []string{"--data-ciphers", strings.Join(tc.offer, ":")}})
			if cl.Cipher != tc.want {
				t.Errorf("cipher = %q, want %q", cl.Cipher, tc.want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := nstest.Transfer(ctx, lab.Server, lab.Client, cl.TunnelIP, 4<<20)
			if err != nil || !res.OK() {
				t.Fatalf("server -> client transfer: %v %s", err, res)
			}
		})
	}
}

func TestUserPasswordAuth(t *testing.T) {
	lab := nstest.New(t, nstest.Options{})
	srv := StartServer(t, ServerConfig{
		NS: lab.Server, Listen: nstest.ServerIP, Proto: "tcp", Wrap: WrapTLSCrypt, NoClientCert: true, Management: true,
		Users: []User{{Name: "alice", Password: `it's "secret" $HOME`}, {Name: "bob", Password: "pw", ChallengeResponse: "123456"}},
	})
	plain, err := srv.ClientProfile(ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plain, "\nauth-user-pass\n") || strings.Contains(plain, "<cert>") {
		t.Fatalf("profile without client cert:\n%s", plain)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	cl := StartClient(t, ClientConfig{NS: lab.Client, Profile: plain, Username: "alice", Password: `it's "secret" $HOME`})
	if err := cl.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nstest.Ping(ctx, lab.Client, srv.TunnelIP()); err != nil {
		t.Error(err)
	}
	_ = cl.Stop()

	bad := StartClient(t, ClientConfig{NS: lab.Client, Profile: plain, Username: "alice", Password: "wrong"})
	if err := bad.WaitConnected(ctx); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong password: err = %v, want ErrAuthFailed", err)
	}
	if bad.AuthFailure() == "" {
		t.Error("AuthFailure() empty after AUTH_FAILED")
	}

	sc, err := srv.ClientProfile(ProfileOptions{StaticChallenge: "Enter MFA code", StaticChallengeEcho: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sc, "\nstatic-challenge \"Enter MFA code\" 1\n") {
		t.Fatalf("static challenge profile:\n%s", sc)
	}
	mfa := StartClient(t, ClientConfig{NS: lab.Client, Profile: sc, Username: "bob", Password: "pw", ChallengeResponse: "123456"})
	if err := mfa.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	_ = mfa.Stop()
	wrongCode := StartClient(t, ClientConfig{NS: lab.Client, Profile: sc, Username: "bob", Password: "pw", ChallengeResponse: "000000"})
	if err := wrongCode.WaitConnected(ctx); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("wrong MFA code: err = %v, want ErrAuthFailed", err)
	}
	// bob's plain password without the SCRV1 wrapping is refused too.
	noCode := StartClient(t, ClientConfig{NS: lab.Client, Profile: plain, Username: "bob", Password: "pw"})
	if err := noCode.WaitConnected(ctx); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("missing MFA code: err = %v, want ErrAuthFailed", err)
	}
	want := []string{"ok alice", "fail alice", "ok bob", "fail bob", "fail bob"}
	if got := srv.AuthLog(); !slices.Equal(got, want) {
		t.Errorf("auth log = %q, want %q", got, want)
	}
	if strings.Contains(srv.Log(), "secret") || strings.Contains(srv.Log(), "123456") {
		t.Error("server log contains a password or MFA code")
	}

	conn, err := net.DialTimeout("unix", srv.ManagementSocket, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ">INFO:OpenVPN Management Interface") {
		t.Errorf("management greeting = %q, %v", line, err)
	}
}

func TestRevokedClientRejected(t *testing.T) {
	lab := nstest.New(t, nstest.Options{})
	labPKI, err := pki.Generate(pki.Spec{Clients: []string{"client1", "client2"}, Options: pki.Options{KeyType: pki.ECDSAP256}})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := labPKI.CA.CRL([]pki.Revoked{{Serial: labPKI.Client("client1").Cert.SerialNumber}}, time.Now().Add(time.Hour), 2)
	if err != nil {
		t.Fatal(err)
	}
	srv := StartServer(t, ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, PKI: labPKI, CRL: crl, Wrap: WrapTLSCrypt})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	good, _ := srv.ClientProfile(ProfileOptions{ClientCert: "client2"})
	Connect(t, ClientConfig{NS: lab.Client, Profile: good})
	revoked, _ := srv.ClientProfile(ProfileOptions{ClientCert: "client1"})
	StartClient(t, ClientConfig{NS: lab.Client, Profile: revoked})
	if err := srv.Proc.WaitFor(ctx, "certificate revoked"); err != nil {
		t.Fatalf("server did not reject the revoked client: %v", err)
	}
}

func TestRenegotiation(t *testing.T) {
	lab := nstest.New(t, nstest.Options{})
	srv := StartServer(t, ServerConfig{NS: lab.Server, Listen: nstest.ServerIP, Wrap: WrapTLSCrypt, RenegSec: 3})
	profile, _ := srv.ClientProfile(ProfileOptions{ClientCert: "client1"})
	cl := Connect(t, ClientConfig{NS: lab.Client, Profile: profile})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Proc.WaitFor(ctx, "TLS: soft reset"); err != nil {
		t.Fatalf("no renegotiation within 15 s: %v", err)
	}
	// The tunnel keeps working on the new key.
	if err := nstest.Ping(ctx, lab.Client, srv.TunnelIP()); err != nil {
		t.Error(err)
	}
	res, err := nstest.Transfer(ctx, lab.Client, lab.Server, srv.TunnelIP(), 2<<20)
	if err != nil || !res.OK() {
		t.Fatalf("transfer after renegotiation: %v %s", err, res)
	}
	// The client verified the server certificate again on the new session.
	if _, err := cl.Proc.WaitMatch(ctx, regexp.MustCompile(`(?s)Control Channel: TLS.*Control Channel: TLS`)); err != nil {
		t.Errorf("client did not log a second TLS session: %v", err)
	}
}
