package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lab writes the files a valid config references and returns its folder.
func lab(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pki"), 0o700)
	for _, f := range []string{"ca.crt", "server.crt", "server.key", "crl.pem"} {
		if err := os.WriteFile(filepath.Join(dir, "pki", f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const base = `listen = "0.0.0.0:1194"
client_cidr = "10.100.0.0/22"
[tls]
ca = "pki/ca.crt"
cert = "pki/server.crt"
key = "pki/server.key"
[authentication]
mutual = true
`

func parse(t *testing.T, dir, doc string) (*Config, error) {
	t.Helper()
	return Parse(filepath.Join(dir, "server.toml"), []byte(doc))
}

func TestValidDefaults(t *testing.T) {
	dir := lab(t)
	c, err := parse(t, dir, base)
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport != "udp" || c.TCP || c.ClientPrefix.String() != "10.100.0.0/22" || c.SessionTimeoutHours != 24 ||
		c.Ciphers[0] != "AES-256-GCM" || c.Digest != "SHA1" || c.RenegInterval() != 3600 || c.Ping != 10 || c.PingRestart != 60 {
		t.Errorf("defaults: %+v", c)
	}
	if c.TLS.CA != filepath.Join(dir, "pki/ca.crt") {
		t.Errorf("tls.ca not resolved against the config folder: %s", c.TLS.CA)
	}
	if c.PublicHost() != "127.0.0.1" || c.Port() != "1194" {
		t.Errorf("public host %s port %s", c.PublicHost(), c.Port())
	}
}

func TestValidationMessages(t *testing.T) {
	dir := lab(t)
	cases := []struct {
		name, doc, want string
	}{
		{"cidr too large", strings.Replace(base, "/22", "/8", 1), "client_cidr: 10.100.0.0/8 is outside /12../22"},
		{"cidr too small", strings.Replace(base, "/22", "/24", 1), "client_cidr: 10.100.0.0/24 is outside /12../22"},
		{"cidr garbage", strings.Replace(base, "10.100.0.0/22", "banana", 1), `client_cidr: "banana" is not an IPv4 CIDR block`},
		{"route overlap", base + "[[routes]]\ndestination = \"10.100.2.0/24\"\n", "routes[0].destination: 10.100.2.0/24 overlaps client_cidr 10.100.0.0/22"},
		{"route bad", base + "[[routes]]\ndestination = \"10.1.2.3\"\n", `routes[0].destination: "10.1.2.3" is not an IPv4 CIDR block`},
		{"missing file", strings.Replace(base, "pki/ca.crt", "pki/nope.crt", 1), "tls.ca: " + filepath.Join(dir, "pki/nope.crt") + ": no such file or directory"},
		{"three dns", "dns_servers = [\"10.0.0.2\", \"10.0.0.3\", \"10.0.0.4\"]\n" + base, "dns_servers: 3 servers, at most 2"},
		{"bad dns", "dns_servers = [\"10.0.0.300\"]\n" + base, `dns_servers[0]: "10.0.0.300" is not an IPv4 address`},
		{"banner", "login_banner = \"" + strings.Repeat("é", 1401) + "\"\n" + base, "login_banner: 1401 characters, at most 1400"},
		{"unknown key", "colour = \"blue\"\n" + base, "unknown key colour"},
		{"unknown nested key", base + "shoe = 1\n", "unknown key authentication.shoe"},
		{"syntax", "listen = \n" + base, "server.toml:1:"},
		{"timeout", "session_timeout_hours = 5\n" + base, "session_timeout_hours: 5 is not one of 8, 10, 12, 24"},
		{"cipher", "data_ciphers = [\"BF-CBC\"]\n" + base, `data_ciphers[0]: unsupported cipher "BF-CBC"`},
		{"transport", "transport = \"sctp\"\n" + base, `transport: "sctp" is neither udp nor tcp`},
		{"group rule mutual only", base + "[[authorization_rules]]\ndestination = \"10.0.0.0/8\"\naccess_group = \"eng\"\n", "authorization_rules[0].access_group: group rules need user-based authentication"},
		{"no auth", strings.Replace(base, "mutual = true", "mutual = false", 1), "authentication: no authentication"},
		{"handler both", base + "[client_connect_handler]\ncommand = [\"/bin/true\"]\nurl = \"http://x\"\n", "client_connect_handler: command and url are exclusive"},
		{"metrics", base + "[metrics]\nlisten = \"localhost\"\n", `metrics.listen: "localhost" is not ADDRESS:PORT`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, dir, tc.doc)
			if err == nil {
				t.Fatalf("accepted; want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "server.toml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	dir := lab(t)
	doc := strings.Replace(base, "/22", "/8", 1) + "[[routes]]\ndestination = \"x\"\n"
	_, err := parse(t, dir, doc)
	if err == nil || !strings.Contains(err.Error(), "client_cidr") || !strings.Contains(err.Error(), "routes[0]") {
		t.Errorf("want both errors, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(base + "[[routes]]\ndestination = \"172.31.0.0/16\"\n[[authorization_rules]]\ndestination = \"0.0.0.0/0\"\n"))
	f.Add([]byte("listen = [1,2]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(filepath.Join(dir, "server.toml"), data)
		if err == nil && (!c.ClientPrefix.IsValid() || len(c.Ciphers) == 0) {
			t.Fatalf("accepted an incomplete config: %+v", c)
		}
	})
}

// TestDNSTable: the optional [dns] table's domains are checked and
// resolve_domains needs dns_servers; the error names the key.
func TestDNSTable(t *testing.T) {
	dir := lab(t)
	c, err := parse(t, dir, "dns_servers = [\"10.0.0.2\"]\n"+base+"[dns]\nsearch_domains = [\"corp.example\"]\nresolve_domains = [\"corp.example\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.DNSTable.SearchDomains[0] != "corp.example" || c.DNSTable.ResolveDomains[0] != "corp.example" || c.DNS[0].String() != "10.0.0.2" {
		t.Errorf("dns: %+v %v", c.DNSTable, c.DNS)
	}
	for _, tc := range []struct{ doc, want string }{
		{base + "[dns]\nresolve_domains = [\"corp.example\"]\n", "dns.resolve_domains: needs dns_servers"},
		{base + "[dns]\nsearch_domains = [\"ok.example\", \"not a domain\"]\n", `dns.search_domains[1]: "not a domain" is not a domain name`},
		{base + "[dns]\nsearch_domain = [\"x.example\"]\n", "unknown key dns.search_domain"},
	} {
		if _, err := parse(t, dir, tc.doc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// TestWebAuthKeys: web_auth needs a users file; its page listens on the
// listen address's IP, port 8080, unless web_auth_listen says otherwise.
func TestWebAuthKeys(t *testing.T) {
	dir := lab(t)
	os.WriteFile(filepath.Join(dir, "users.toml"), []byte(""), 0o600)
	doc := strings.Replace(base, "mutual = true\n", "mutual = false\nusers_file = \"users.toml\"\nweb_auth = true\n", 1)
	c, err := parse(t, dir, doc)
	if err != nil {
		t.Fatal(err)
	}
	if c.Authentication.WebAuthListen != "0.0.0.0:8080" {
		t.Errorf("web_auth_listen default = %q", c.Authentication.WebAuthListen)
	}
	bad := strings.Replace(base, "mutual = true\n", "mutual = true\nweb_auth = true\nweb_auth_listen = \"nowhere\"\n", 1)
	_, err = parse(t, dir, bad)
	for _, want := range []string{"authentication.web_auth: needs authentication.users_file", `authentication.web_auth_listen: "nowhere" is not ADDRESS:PORT`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
