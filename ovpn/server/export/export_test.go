package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/server/config"
)

func TestInitAndExport(t *testing.T) {
	dir := t.TempDir()
	paths, err := InitLab(dir, InitOptions{CN: "vpn-lab", PublicAddress: "vpn.lab.test", Listen: "0.0.0.0:1194"})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("paths %v", paths)
	}
	if _, err := InitLab(dir, InitOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second init: %v", err)
	}
	prof, err := os.ReadFile(filepath.Join(dir, "client1.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(prof)
	for _, want := range []string{"client\n", "proto udp\n", "remote vpn.lab.test 1194\n", "remote-random-hostname\n",
		"remote-cert-tls server\n", "cipher AES-256-GCM\n", "<ca>\n-----BEGIN CERTIFICATE-----", "<cert>\n", "<key>\n",
		"reneg-sec 0\n", "verify-x509-name vpn-lab name\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("profile lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "auth-user-pass") {
		t.Error("certificate-only profile asks for a password")
	}
	// Our own profile parser accepts it without errors.
	pf := filepath.Join(dir, "client1.ovpn")
	if _, ds, err := profile.ParseFile(pf, profile.Options{}); err != nil || ds.HasErrors() {
		t.Errorf("profile does not parse: %v %s", err, ds.String())
	}

	// IP public address: no remote-random-hostname; users with MFA add
	// auth-user-pass and static-challenge; tls-crypt inlined.
	cfgPath := filepath.Join(dir, "server.toml")
	b, _ := os.ReadFile(cfgPath)
	doc := strings.Replace(string(b), `public_address = "vpn.lab.test"`, `public_address = "192.0.2.10"`, 1)
	doc = strings.Replace(doc, `users_file = ""`, `users_file = "users.toml"`, 1)
	doc = strings.Replace(doc, `tls_crypt = ""`, `tls_crypt = "pki/tls-crypt.key"`, 1)
	os.WriteFile(filepath.Join(dir, "users.toml"), []byte("[[user]]\nname = \"a\"\npassword_bcrypt = \"$2a$04$"+strings.Repeat("a", 53)+"\"\ntotp_secret = \"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\"\n"), 0o600)
	os.WriteFile(cfgPath, []byte(doc), 0o644)
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text, err = Profile(c, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "remote-random-hostname") || !strings.Contains(text, "remote 192.0.2.10 1194\n") {
		t.Errorf("IP remote:\n%s", text)
	}
	for _, want := range []string{"auth-user-pass\n", `static-challenge "Enter MFA code " 1` + "\n", "<tls-crypt>\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	if _, err := Profile(c, "nobody"); err == nil || !strings.Contains(err.Error(), `client certificate "nobody"`) {
		t.Errorf("unknown client: %v", err)
	}
}
