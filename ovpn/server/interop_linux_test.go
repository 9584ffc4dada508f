package server_test

import (
	"crypto/sha1"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/internal/testkit/openvpnpeer"
	"github.com/cvpn/cvpn/ovpn/server/users"
)

const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DP"

// usersTOML returns a users file with alice (groups eng), bob (groups
// ops) and carol (TOTP), all with password "pw-<name>".
func usersTOML(t *testing.T, withTOTP bool) string {
	t.Helper()
	h := func(p string) string {
		b, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	doc := fmt.Sprintf(`[[user]]
name = "alice"
password_bcrypt = %q
groups = ["eng"]

[[user]]
name = "bob"
password_bcrypt = %q
groups = ["ops"]
`, h("pw-alice"), h("pw-bob"))
	if withTOTP {
		doc += fmt.Sprintf(`
[[user]]
name = "carol"
password_bcrypt = %q
groups = ["eng"]
totp_secret = %q
`, h("pw-carol"), totpSecret)
	}
	return doc
}

func totpNow(t *testing.T) string {
	k, err := users.DecodeSecret(totpSecret)
	if err != nil {
		t.Fatal(err)
	}
	return users.TOTP(k, time.Now(), users.TOTPStep, users.TOTPDigits, sha1.New)
}

func TestOpenVPNClientInterop(t *testing.T) {
	type tcase struct {
		name       string
		spec       serverSpec
		user, pass string
		totp       bool
		wantCipher string
	}
	cases := []tcase{
		{name: "udp-aes256gcm-cert-banner", spec: serverSpec{banner: "Lab banner, ignored by OpenVPN 2.6", enforce: true}, wantCipher: "AES-256-GCM"},
		{name: "tcp-aes128gcm-tlsauth", spec: serverSpec{transport: "tcp", ciphers: []string{"AES-128-GCM"}, wrap: "tls-auth"}, wantCipher: "AES-128-GCM"},
		{name: "udp-chacha-tlscrypt", spec: serverSpec{ciphers: []string{"CHACHA20-POLY1305"}, wrap: "tls-crypt"}, wantCipher: "CHACHA20-POLY1305"},
		{name: "udp-aes256cbc-sha256-tlsauth", spec: serverSpec{ciphers: []string{"AES-256-CBC"}, auth: "SHA256", wrap: "tls-auth"}, wantCipher: "AES-256-CBC"},
		{name: "tcp-userpass", spec: serverSpec{transport: "tcp", mutual: boolp(false), split: true}, user: "alice", pass: "pw-alice"},
		{name: "udp-cert-userpass-totp", spec: serverSpec{wrap: "tls-crypt"}, user: "carol", pass: "pw-carol", totp: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.user != "" {
				tc.spec.users = usersTOML(t, tc.totp)
			}
			ls := newLabServer(t, tc.spec)
			prof := ls.profile(t, "")
			cc := openvpnpeer.ClientConfig{NS: ls.lab.Client, Profile: prof, Username: tc.user, Password: tc.pass}
			if tc.totp {
				cc.ChallengeResponse = totpNow(t)
			}
			cl := openvpnpeer.Connect(t, cc)
			t.Logf("connected in %s, ip %s cipher %s", cl.ConnectTime, cl.TunnelIP, cl.Cipher)
			if tc.wantCipher != "" && cl.Cipher != tc.wantCipher {
				t.Errorf("cipher %q, want %q", cl.Cipher, tc.wantCipher)
			}
			proveTraffic(t, ls.lab, cl.TunnelIP)
		})
	}
}
