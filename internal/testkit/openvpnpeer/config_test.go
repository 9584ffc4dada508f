package openvpnpeer

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cvpn/cvpn/ovpn/server/pki"
)

var (
	pkiOnce sync.Once
	labPKI  *pki.PKI
	pkiErr  error
)

func testPKI(t *testing.T) *pki.PKI {
	t.Helper()
	pkiOnce.Do(func() {
		labPKI, pkiErr = pki.Generate(pki.Spec{Clients: []string{"client1"}, Options: pki.Options{KeyType: pki.ECDSAP256}})
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return labPKI
}

func TestServerConfigRender(t *testing.T) {
	c := ServerConfig{
		NS: "ns", Listen: netip.MustParseAddr("198.18.0.2"), Proto: "tcp", Wrap: WrapTLSAuth,
		Users:      []User{{Name: "u", Password: "p"}},
		PushRoutes: []netip.Prefix{netip.MustParsePrefix("198.19.0.0/24"), netip.MustParsePrefix("fd19::/64")},
		PushDNS:    []netip.Addr{netip.MustParseAddr("10.8.0.1")},
		Push:       []string{"redirect-gateway def1"},
		RenegSec:   30, RenegBytes: 1000000, ForceEKM: true,
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	got := c.render(serverFiles{CA: "/d/ca", Cert: "/d/crt", Key: "/d/key", TLSAuth: "/d/ta", Verify: "/d/v.sh", CRL: "/d/crl"})
	for _, want := range []string{
		"\nproto tcp\n", "\nlocal 198.18.0.2\n", "\nport 1194\n", "\ntopology subnet\n",
		"\nserver 10.8.0.0 255.255.255.0\n", "\nserver-ipv6 fd08::/64\n", "\ntls-auth /d/ta 0\n",
		"\ncrl-verify /d/crl\n", "\ndata-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\n",
		"\nscript-security 2\n", "\nauth-user-pass-verify /d/v.sh via-file\n",
		"\npush \"route 198.19.0.0 255.255.255.0\"\n", "\npush \"route-ipv6 fd19::/64\"\n",
		"\npush \"dhcp-option DNS 10.8.0.1\"\n", "\npush \"redirect-gateway def1\"\n",
		"\nkeepalive 10 60\n", "\nreneg-sec 30\n", "\nreneg-bytes 1000000\n", "\nforce-tls-key-material-export\n",
		"\nverb 3\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "explicit-exit-notify") || strings.Contains(got, "tls-crypt") || strings.Contains(got, "verify-client-cert") {
		t.Errorf("unexpected directive:\n%s", got)
	}
}

func TestServerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    ServerConfig
		want string
	}{
		{ServerConfig{}, "NS is empty"},
		{ServerConfig{NS: "x", Proto: "sctp"}, `Proto "sctp"`},
		{ServerConfig{NS: "x", Network: netip.MustParsePrefix("10.0.0.0/30")}, "Network 10.0.0.0/30"},
		{ServerConfig{NS: "x", NoClientCert: true}, "accept anyone"},
		{ServerConfig{NS: "x", Users: []User{{Name: "a", Password: "b\nc"}}}, "Users[0]"},
	} {
		tc.c.applyDefaults()
		if err := tc.c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestClientProfile(t *testing.T) {
	p := testPKI(t)
	c := ServerConfig{NS: "ns", Listen: netip.MustParseAddr("198.18.0.2"), PKI: p, Wrap: WrapTLSAuth, Auth: "SHA256"}
	prof, err := c.ClientProfile(ProfileOptions{ClientCert: "client1", StaticChallenge: `Code "now"`})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"client\n", "\nproto udp\n", "\nremote 198.18.0.2 1194\n", "\nremote-cert-tls server\n", "\nauth SHA256\n",
		"\nstatic-challenge \"Code \\\"now\\\"\" 0\n", "\n<ca>\n-----BEGIN CERTIFICATE-----", "\n</ca>\n",
		"\n<cert>\n", "\n<key>\n-----BEGIN PRIVATE KEY-----", "\nkey-direction 1\n<tls-auth>\n#\n# 2048 bit OpenVPN static key",
		"-----END OpenVPN Static key V1-----\n</tls-auth>\n",
	} {
		if !strings.Contains(prof, want) {
			t.Errorf("profile lacks %q:\n%s", want, prof)
		}
	}
	if strings.Contains(prof, "auth-user-pass") {
		t.Error("auth-user-pass in a profile for a server without users")
	}
	if _, err := c.ClientProfile(ProfileOptions{ClientCert: "nobody"}); err == nil || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("unknown client: %v", err)
	}
	c.Listen = netip.Addr{}
	if _, err := c.ClientProfile(ProfileOptions{}); err == nil || !strings.Contains(err.Error(), "Remote") {
		t.Errorf("no remote: %v", err)
	}
	prof, err = c.ClientProfile(ProfileOptions{Remote: "vpn.lab.test"})
	if err != nil || !strings.Contains(prof, "\nremote vpn.lab.test 1194\n") || strings.Contains(prof, "<cert>") {
		t.Errorf("remote override: %v\n%s", err, prof)
	}
}

func TestVerifyScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	users := []User{
		{Name: "alice", Password: `it's "quoted" $HOME`},
		{Name: "o'brien", Password: "x"},
		{Name: "bob", Password: "pw", ChallengeResponse: "123456"},
	}
	script := filepath.Join(dir, "v.sh")
	if err := os.WriteFile(script, []byte(verifyScript(users, logPath)), 0o700); err != nil {
		t.Fatal(err)
	}
	check := func(user, pass string) bool {
		cred := filepath.Join(dir, "cred")
		if err := os.WriteFile(cred, []byte(user+"\n"+pass+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command("sh", script, cred).Run() == nil
	}
	for _, tc := range []struct {
		user, pass string
		ok         bool
	}{
		{"alice", `it's "quoted" $HOME`, true},
		{"alice", `it's "quoted" /root`, false},
		{"o'brien", "x", true},
		{"bob", "pw", false},
		{"bob", SCRV1("pw", "123456"), true},
		{"bob", SCRV1("pw", "123457"), false},
		{"mallory", "x", false},
		{"*", "x", false},
	} {
		if got := check(tc.user, tc.pass); got != tc.ok {
			t.Errorf("user %q: accepted=%v, want %v", tc.user, got, tc.ok)
		}
	}
	b, _ := os.ReadFile(logPath)
	want := "ok alice\nfail alice\nok o'brien\nfail bob\nok bob\nfail bob\nfail mallory\nfail *\n"
	if string(b) != want {
		t.Errorf("auth log = %q, want %q", b, want)
	}
	if SCRV1("pw", "123456") != "SCRV1:cHc=:MTIzNDU2" {
		t.Errorf("SCRV1 = %q", SCRV1("pw", "123456"))
	}
}
