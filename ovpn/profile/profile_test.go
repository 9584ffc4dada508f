package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/ovpn/statickey"
)

func good(t *testing.T, name string) *Profile {
	t.Helper()
	p, ds := parseTestFile(t, filepath.Join(profilesDir, "good", name))
	if len(ds) != 0 {
		t.Fatalf("%s: unexpected diagnostics:\n%s", name, ds)
	}
	return p
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestAWSMutual(t *testing.T) {
	p := good(t, "aws-mutual.ovpn")
	eq(t, "remotes", p.Remotes, []Remote{{Host: "cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-2.amazonaws.com", Port: 443, Proto: "udp", Line: 4}})
	eq(t, "auth", p.Auth, AuthMode{Certificate: true})
	eq(t, "remote-random-hostname", p.RemoteRandomHostname, true)
	eq(t, "resolv-retry infinite", p.ResolvRetryInfinite, true)
	eq(t, "reneg", p.RenegInterval, time.Duration(0))
	eq(t, "verify-x509-name", p.VerifyX509Name, &VerifyX509Name{Type: "name", Name: "server"})
	eq(t, "remote-cert-tls", p.RemoteCertTLS, "server")
	eq(t, "cipher", p.Cipher, "AES-256-GCM")
	eq(t, "negotiable", p.NegotiableCiphers(), []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"})
	eq(t, "verb", p.Verb, 3)
	eq(t, "key direction", p.KeyDirection, KeyDirectionNone)
	if p.ClientCert == nil || p.ClientCert.Leaf.Subject.CommonName != "client1.vpn.example.com" || len(p.ClientCert.Certificate) != 1 {
		t.Fatalf("client certificate not parsed: %+v", p.ClientCert)
	}
	eq(t, "CA", p.CA[0].Subject.CommonName, "cvpn test CA")
	if err := p.ClientCert.Leaf.CheckSignatureFrom(p.CA[0]); err != nil {
		t.Errorf("client cert not signed by CA: %v", err)
	}
	// Defaults.
	eq(t, "tun-mtu", p.TunMTU, 1500)
	eq(t, "mssfix", p.MSSFix, 1492)
	eq(t, "digest", p.Digest, "SHA1")
	eq(t, "connect-retry", p.ConnectRetry, time.Second)
	eq(t, "server-poll-timeout", p.ServerPollTimeout, 120*time.Second)
}

func TestAuthModes(t *testing.T) {
	for _, tc := range []struct {
		file string
		want AuthMode
	}{
		{"aws-ad.ovpn", AuthMode{UserPass: true}},
		{"aws-ad-mfa.ovpn", AuthMode{UserPass: true, StaticChallenge: true}},
		{"aws-federated.ovpn", AuthMode{UserPass: true, Federated: true}},
		{"aws-federated-mutual.ovpn", AuthMode{Certificate: true, Federated: true}},
		{"tls-crypt.ovpn", AuthMode{Certificate: true}},
	} {
		p := good(t, tc.file)
		eq(t, tc.file+" auth", p.Auth, tc.want)
	}
	p := good(t, "aws-ad-mfa.ovpn")
	eq(t, "static challenge", p.StaticChallenge, &StaticChallenge{Text: "Enter MFA code ", Echo: true})
	eq(t, "auth-nocache", p.AuthNoCache, true)
	p = good(t, "aws-federated.ovpn")
	eq(t, "auth-retry", p.AuthRetry, "interact")
	eq(t, "auth names", p.Auth.Names(), []string{"user-pass", "federated"})
	p = good(t, "aws-federated-mutual.ovpn")
	eq(t, "proto", p.Remotes[0].Proto, Proto("tcp"))
	eq(t, "is tcp", p.Remotes[0].Proto.IsTCP(), true)
}

func TestIPv6LeakPrevention(t *testing.T) {
	p := good(t, "ipv6-leak-prevention.ovpn")
	eq(t, "ifconfig-ipv6", p.IfconfigIPv6, &IfconfigIPv6{Local: netip.MustParsePrefix("fd15:53b6:dead::2/64"), Remote: netip.MustParseAddr("fd15:53b6:dead::1")})
	var got []string
	for _, r := range p.RoutesIPv6 {
		got = append(got, r.String())
	}
	eq(t, "route-ipv6", got, []string{"2000::/3 via vpn_gateway", "fc00::/7 via vpn_gateway"})
}

func readPKI(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(profilesDir, "pki", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestControlChannelKeys(t *testing.T) {
	ta, err := ParseStaticKey(readPKI(t, "ta.key"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := ParseStaticKey(readPKI(t, "tc.key"))
	if err != nil {
		t.Fatal(err)
	}
	p := good(t, "tls-crypt.ovpn")
	if p.TLSCrypt == nil || !bytes.Equal(p.TLSCrypt.Bytes(), tc.Bytes()) || p.TLSAuth != nil {
		t.Fatal("tls-crypt key not loaded")
	}
	eq(t, "data-ciphers", p.DataCiphers, []string{"AES-256-GCM", "CHACHA20-POLY1305"})
	for _, f := range []string{"tls-auth-keydir.ovpn", "relative-paths.ovpn", "inline-markers.ovpn"} {
		p := good(t, f)
		if p.TLSAuth == nil || !bytes.Equal(p.TLSAuth.Bytes(), ta.Bytes()) {
			t.Fatalf("%s: tls-auth key not loaded", f)
		}
		eq(t, f+" key direction", p.KeyDirection, KeyDirection1)
		if p.ClientCert == nil {
			t.Fatalf("%s: client certificate missing", f)
		}
	}
	eq(t, "digest", good(t, "tls-auth-keydir.ovpn").Digest, "SHA256")
	p = good(t, "tls-crypt-v2.ovpn")
	if p.TLSCryptV2 == nil || len(p.TLSCryptV2.Wrapped) != 32+256+2 {
		t.Fatalf("tls-crypt-v2 key: %+v", p.TLSCryptV2)
	}
}

func TestWindowsCRLFAndBOM(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(profilesDir, "good", "windows-crlf-bom.ovpn"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("\xef\xbb\xbf")) || !bytes.Contains(raw, []byte("\r\n")) {
		t.Fatal("test file lost its BOM or CRLF line ends")
	}
	p := good(t, "windows-crlf-bom.ovpn")
	eq(t, "client", p.Client, true)
	eq(t, "host", p.Remotes[0].Host, "cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-2.amazonaws.com")
	eq(t, "auth", p.Auth, AuthMode{Certificate: true})
}

func TestMultipleRemotes(t *testing.T) {
	p := good(t, "multi-remote.ovpn")
	var got []string
	for _, r := range p.Remotes {
		got = append(got, r.String())
	}
	eq(t, "remotes", got, []string{
		"vpn1.example.com:1194/udp",
		"vpn2.example.com:443/udp",
		"vpn3.example.com:443/tcp",
		"192.0.2.10:1194/udp4",
		"[2001:db8::10]:443/tcp6",
	})
	eq(t, "server-poll-timeout", p.ServerPollTimeout, 10*time.Second)
}

func TestQuoting(t *testing.T) {
	p := good(t, "quoting.ovpn")
	var hosts []string
	for _, r := range p.Remotes {
		hosts = append(hosts, r.Host)
	}
	eq(t, "hosts", hosts, []string{"vpn.example.com", "vpn spaced.example.com", "vpn#hash.example.com"})
	eq(t, "static challenge", p.StaticChallenge, &StaticChallenge{Text: `Enter "MFA" code: `, Echo: false})
	eq(t, "setenv", p.Setenv, []EnvVar{{"UV_DEVICE", `C:\Users\me\laptop`}, {"UV_GROUP", `sales and \ marketing`}})
	eq(t, "pull-filter", p.PullFilters, []PullFilter{{"ignore", "route 10.0.0.0 255.0.0.0"}})
	eq(t, "verify", p.VerifyX509Name, &VerifyX509Name{Type: "name", Name: "server.vpn.example.com"})
}

func TestRoutesAndDHCP(t *testing.T) {
	p := good(t, "routes.ovpn")
	var got []string
	for _, r := range p.Routes {
		got = append(got, r.String())
	}
	eq(t, "routes", got, []string{
		"10.0.0.0/8 via vpn_gateway",
		"172.31.0.0/16 via vpn_gateway metric 5",
		"192.168.10.0/24 via net_gateway",
		"198.51.100.7/32 via vpn_gateway",
		"203.0.113.0/24 via 10.100.0.1",
	})
	eq(t, "net gateway kind", p.Routes[2].GatewayKind, NetGateway)
	eq(t, "explicit gateway", p.Routes[4].Gateway, netip.MustParseAddr("10.100.0.1"))
	got = nil
	for _, r := range p.RoutesIPv6 {
		got = append(got, r.String())
	}
	eq(t, "routes6", got, []string{"2001:db8:1::/48 via net_gateway", "2001:db8:2::/48 via vpn_gateway metric 10"})
	eq(t, "dhcp", p.DHCPOptions, []DHCPOption{{"DNS", "10.0.0.2"}, {"DNS", "2001:db8::53"}, {"DOMAIN", "corp.example.com"}, {"DOMAIN-SEARCH", "example.test"}})
}

func TestTimersAndMTU(t *testing.T) {
	p := good(t, "pull-filter-mtu.ovpn")
	eq(t, "filters", p.PullFilters, []PullFilter{{"ignore", "redirect-gateway"}, {"accept", "route 10."}, {"reject", "dhcp-option DNS 8.8.8.8"}})
	eq(t, "mssfix", p.MSSFix, 1328)
	eq(t, "tun-mtu", p.TunMTU, 1400)
	eq(t, "ping", p.Ping, 10*time.Second)
	eq(t, "ping-restart", p.PingRestart, 60*time.Second)
	eq(t, "ping-exit", p.PingExit, 600*time.Second)
	eq(t, "inactive", p.Inactive, time.Hour)
	eq(t, "inactive bytes", p.InactiveBytes, int64(1000000))

	p = good(t, "retry-timers.ovpn")
	eq(t, "dev", p.Dev, "tun0")
	eq(t, "resolv-retry", [2]any{p.ResolvRetry, p.ResolvRetryInfinite}, [2]any{30 * time.Second, false})
	eq(t, "connect-retry", [3]any{p.ConnectRetry, p.ConnectRetryMax, p.ConnectRetryAttempts}, [3]any{5 * time.Second, time.Minute, 10})
	eq(t, "server-poll-timeout", p.ServerPollTimeout, 20*time.Second)
	eq(t, "explicit-exit-notify", p.ExplicitExitNotify, 2)
	eq(t, "compression", p.Compression, CompressionStubV2)
	eq(t, "reneg", [2]time.Duration{p.RenegInterval, p.RenegIntervalMin}, [2]time.Duration{8 * time.Hour, 10 * time.Minute})
	eq(t, "ping", [2]time.Duration{p.Ping, p.PingRestart}, [2]time.Duration{15 * time.Second, 2 * time.Minute})
	eq(t, "setenv", p.Setenv, []EnvVar{{"UV_CLIENT", "cvpn"}})
	eq(t, "proto", p.Remotes[0].Proto, Proto("tcp"))
}

func TestCBCAndCompressionFraming(t *testing.T) {
	p := good(t, "rsa-cbc.ovpn")
	eq(t, "cipher", p.Cipher, "AES-256-CBC")
	eq(t, "data-ciphers (optional unknown dropped)", p.DataCiphers, []string{"AES-256-GCM", "AES-128-GCM"})
	eq(t, "negotiable", p.NegotiableCiphers(), []string{"AES-256-GCM", "AES-128-GCM", "AES-256-CBC"})
	eq(t, "compression", p.Compression, CompressionLZONo)
	eq(t, "float", p.Float, true)
	if p.ClientCert == nil || p.ClientCert.Leaf.PublicKeyAlgorithm.String() != "RSA" {
		t.Fatal("RSA client certificate not loaded")
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		err  bool
	}{
		{"remote host 443", []string{"remote", "host", "443"}, false},
		{"  remote\thost  ", []string{"remote", "host"}, false},
		{"# comment", nil, false},
		{"; comment", nil, false},
		{"remote host # trailing", []string{"remote", "host"}, false},
		{"remote host#x", []string{"remote", "host#x"}, false},
		{`a "b c" d`, []string{"a", "b c", "d"}, false},
		{`a "b \"c\" \\ d"`, []string{"a", `b "c" \ d`}, false},
		{`a 'b \ "c"'`, []string{"a", `b \ "c"`}, false},
		{`a b\ c`, []string{"a", "b c"}, false},
		{`a \#not-comment`, []string{"a", "#not-comment"}, false},
		{`a ""`, []string{"a", ""}, false},
		{`a "unterminated`, nil, true},
		{`a 'unterminated`, nil, true},
		{`a \`, []string{"a"}, false},
	} {
		got, err := tokenize(tc.line)
		if (err != "") != tc.err {
			t.Errorf("tokenize(%q) error %q, want error %v", tc.line, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tokenize(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestQuoteArgRoundTrip(t *testing.T) {
	for _, s := range []string{"plain", "", "with space", `back\slash`, `"quoted"`, "#hash", ";semi", "it's", "tab\there", "mid#hash"} {
		line := "x " + quoteArg(s)
		got, err := tokenize(line)
		if err != "" || len(got) != 2 || got[1] != s {
			t.Errorf("quoteArg(%q) = %q reads back as %q (%s)", s, quoteArg(s), got, err)
		}
	}
}

func TestStaticKeyKnownAnswer(t *testing.T) {
	raw := make([]byte, StaticKeySize)
	for i := range raw {
		raw[i] = byte(i)
	}
	k, err := NewStaticKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	text := k.Marshal()
	if !bytes.Contains(text, []byte("-----BEGIN OpenVPN Static key V1-----\n000102030405060708090a0b0c0d0e0f\n")) {
		t.Fatalf("unexpected text form:\n%s", text)
	}
	k2, err := ParseStaticKey(text)
	if err != nil || !bytes.Equal(k2.Bytes(), raw) {
		t.Fatalf("round trip failed: %v", err)
	}
	s0, s1 := k.Slot(0), k.Slot(1)
	if s0.Cipher[0] != 0 || s0.HMAC[0] != 64 || s1.Cipher[0] != 128 || s1.HMAC[0] != 192 || s1.HMAC[63] != 255 {
		t.Fatalf("slot layout wrong: %d %d %d %d", s0.Cipher[0], s0.HMAC[0], s1.Cipher[0], s1.HMAC[0])
	}
	send, recv := k.Directional(KeyDirection1)
	if send != s1 || recv != s0 {
		t.Error("direction 1 must send with slot 1 and receive with slot 0")
	}
	send, recv = k.Directional(KeyDirection0)
	if send != s0 || recv != s1 {
		t.Error("direction 0 must send with slot 0 and receive with slot 1")
	}
	send, recv = k.Directional(KeyDirectionNone)
	if send != s0 || recv != s0 {
		t.Error("no direction must use slot 0 both ways")
	}
	if s := fmt.Sprintf("%v %+v %s", k, k, k); strings.Contains(s, "0001") || strings.Contains(s, "raw") {
		t.Errorf("formatting leaks key material: %s", s)
	}
	for _, bad := range []string{"", statickey.BeginLine + "\nzz\n" + statickey.EndLine, statickey.BeginLine + "\n0011\n", statickey.BeginLine + "\n0011\n" + statickey.EndLine} {
		if _, err := ParseStaticKey([]byte(bad)); err == nil {
			t.Errorf("ParseStaticKey(%q) succeeded", bad)
		}
	}
}

// TestSerializeRoundTrip checks that the self-contained form of every good
// profile parses without file access into the same model, and that
// serializing again gives the same bytes.
func TestSerializeRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(profilesDir, "good", "*.ovpn"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p := good(t, filepath.Base(f))
			out := Serialize(p)
			q, ds := Parse(out, Options{Name: p.Name, NoFiles: true, Now: testNow})
			if len(ds) != 0 {
				t.Fatalf("serialized profile has diagnostics:\n%s\n%s", ds, out)
			}
			a, _ := json.Marshal(p.Summary())
			b, _ := json.Marshal(q.Summary())
			if !bytes.Equal(a, b) {
				t.Errorf("summary changed:\n%s\n%s", a, b)
			}
			eq(t, "key direction", q.KeyDirection, p.KeyDirection)
			eq(t, "setenv", q.Setenv, p.Setenv)
			eq(t, "timers", [4]time.Duration{q.ConnectRetry, q.ConnectRetryMax, q.ServerPollTimeout, q.PingExit}, [4]time.Duration{p.ConnectRetry, p.ConnectRetryMax, p.ServerPollTimeout, p.PingExit})
			if again := Serialize(q); !bytes.Equal(again, out) {
				t.Errorf("serialize is not stable:\n%s\n---\n%s", out, again)
			}
			if bytes.Contains(out, []byte("certs/")) {
				t.Error("file reference survived serialization")
			}
		})
	}
}

func TestSerializeDropsCredentialsFile(t *testing.T) {
	src := "client\ndev tun\nremote vpn.lab.test\nauth-user-pass creds.txt\n<ca>\n" + string(readPKI(t, "ca.crt")) + "</ca>\n"
	p, ds := Parse([]byte(src), Options{Name: "x.ovpn", BaseDir: "/etc/vpn", Now: testNow})
	if len(ds) != 0 {
		t.Fatal(ds)
	}
	eq(t, "auth-user-pass file", p.AuthUserPassFile, filepath.Join("/etc/vpn", "creds.txt"))
	out := string(Serialize(p))
	if strings.Contains(out, "creds.txt") || !strings.Contains(out, "\nauth-user-pass\n") {
		t.Fatalf("credentials file not dropped:\n%s", out)
	}
}

func TestNoFilesRefusesReferences(t *testing.T) {
	src := "client\ndev tun\nremote vpn.lab.test\nauth-user-pass\nca ca.crt\n"
	_, ds := Parse([]byte(src), Options{Name: "ipc", NoFiles: true, Now: testNow})
	want := "ipc:5: error: ca ca.crt: file references are not allowed here; import the profile first (cvpn profile import) so the file is inlined\n"
	if ds.String() != want {
		t.Fatalf("got\n%swant\n%s", ds, want)
	}
}

func TestDiagnosticsOnLastLineAndJSON(t *testing.T) {
	_, ds := Parse([]byte("client\ndev tun\nauth-user-pass\n"), Options{Name: "p.ovpn", Now: testNow})
	got := ds.String()
	want := "p.ovpn:3: error: the profile has no remote line: add remote HOST [PORT] [udp|tcp]\n" +
		"p.ovpn:3: error: the profile has no CA certificate: add a <ca> block or a ca FILE line\n"
	if got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
	res := NewCheckResult("p.ovpn", ds)
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"file":"p.ovpn","usable":false,"diagnostics":[{"line":3,"severity":"error","message":"the profile has no remote line`) {
		t.Fatalf("JSON shape: %s", b)
	}
	var back CheckResult
	if err := json.Unmarshal(b, &back); err != nil || back.Diagnostics[1].Severity != SeverityError {
		t.Fatalf("JSON does not decode: %v", err)
	}
	b, _ = json.Marshal(NewCheckResult("x", nil))
	eq(t, "empty", string(b), `{"file":"x","usable":true,"diagnostics":[]}`)
}

func TestExpiryWarning(t *testing.T) {
	p := good(t, "aws-mutual.ovpn")
	nearEnd := p.ClientCert.Leaf.NotAfter.Add(-24 * time.Hour)
	_, ds, _ := ParseFile(filepath.Join(profilesDir, "good", "aws-mutual.ovpn"), Options{Name: "m", Now: func() time.Time { return nearEnd }})
	if len(ds) != 1 || ds[0].Severity != SeverityWarning || !strings.Contains(ds[0].Message, "expires on 2124-01-01") {
		t.Fatalf("want one expiry warning, got:\n%s", ds)
	}
}

func TestSummaryHasNoKeyMaterial(t *testing.T) {
	for _, f := range []string{"aws-mutual.ovpn", "tls-auth-keydir.ovpn", "tls-crypt-v2.ovpn"} {
		p := good(t, f)
		s := p.Summary()
		b, _ := json.Marshal(s)
		var text bytes.Buffer
		if err := s.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{string(b), text.String()} {
			for _, bad := range []string{"PRIVATE KEY", "Static key", "BEGIN"} {
				if strings.Contains(out, bad) {
					t.Errorf("%s summary contains %q", f, bad)
				}
			}
		}
	}
	s := good(t, "aws-mutual.ovpn").Summary()
	if !s.PrivateKey || s.ClientCertificate == nil || s.ClientCertificate.Subject == "" {
		t.Errorf("summary misses the key/cert presence: %+v", s)
	}
	s = good(t, "tls-auth-keydir.ovpn").Summary()
	eq(t, "control key", [2]string{s.ControlKey, s.KeyDirection}, [2]string{"tls-auth", "1"})
}

func TestSetenvOptAndIgnoreUnknown(t *testing.T) {
	src := "client\ndev tun\nremote h\nauth-user-pass\nsetenv opt block-outside-dns\nsetenv opt frob 1\nignore-unknown-option wibble\nwibble 3\n<ca>\n" + string(readPKI(t, "ca.crt")) + "</ca>\n"
	_, ds := Parse([]byte(src), Options{Name: "p", Now: testNow})
	want := "p:5: warning: block-outside-dns is not used by cvpn and is ignored\n" +
		"p:6: warning: unknown directive \"frob\" in setenv opt ignored\n" +
		"p:8: warning: unknown directive \"wibble\" ignored (listed by ignore-unknown-option or FORWARD_COMPATIBLE)\n"
	if ds.String() != want {
		t.Fatalf("got\n%swant\n%s", ds, want)
	}
}

func TestRepeatedDirectiveLastWins(t *testing.T) {
	src := "client\ndev tun\nremote h\nauth-user-pass\ntun-mtu 1400\ntun-mtu 1300\n<ca>\n" + string(readPKI(t, "ca.crt")) + "</ca>\n"
	p, ds := Parse([]byte(src), Options{Name: "p", Now: testNow})
	eq(t, "diags", ds.String(), "p:6: warning: tun-mtu repeats line 5; the later one is used\n")
	eq(t, "tun-mtu", p.TunMTU, 1300)
	if n := strings.Count(string(Serialize(p)), "tun-mtu"); n != 1 {
		t.Errorf("serialized %d tun-mtu lines, want 1", n)
	}
}

func TestSummaryJSONRoundTrip(t *testing.T) {
	s := good(t, "routes.ovpn").Summary()
	s.Compression = CompressionStubV2
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Routes, stripLines(s.Routes)) || back.Compression != CompressionStubV2 {
		t.Fatalf("round trip:\n%+v\n%+v", back.Routes, s.Routes)
	}
	if !strings.Contains(string(b), `{"destination":"192.168.10.0/24","gateway_kind":"net_gateway"}`) {
		t.Errorf("route JSON shape: %s", b)
	}
}

func stripLines(rs []Route) []Route {
	out := append([]Route(nil), rs...)
	for i := range out {
		out[i].Line = 0
		out[i].HasMetric = false
	}
	return out
}

func TestPullFilterAction(t *testing.T) {
	p := good(t, "pull-filter-mtu.ovpn")
	for opt, want := range map[string]string{
		"redirect-gateway def1 bypass-dhcp": "ignore",
		"route 10.1.0.0 255.255.0.0":        "accept",
		"dhcp-option DNS 8.8.8.8":           "reject",
		"dhcp-option DNS 10.0.0.2":          "accept",
		"route 172.16.0.0 255.240.0.0":      "accept",
	} {
		if got := p.PullFilterAction(opt); got != want {
			t.Errorf("PullFilterAction(%q) = %s, want %s", opt, got, want)
		}
	}
}

// TestMSSFixForms checks OpenVPN 2.6's reading of mssfix: no directive and
// a bare mssfix mean 1492 including the outer IP and UDP header ("mtu"); a
// number alone excludes it.
func TestMSSFixForms(t *testing.T) {
	cases := []struct {
		line  string
		max   int
		mode  string
		byMTU bool
	}{
		{"", 1492, "mtu", true},
		{"mssfix\n", 1492, "mtu", true},
		{"mssfix 1328\n", 1328, "", false},
		{"mssfix 1400 mtu\n", 1400, "mtu", false},
		{"mssfix 1400 fixed\n", 1400, "fixed", false},
		{"mssfix 0\n", 0, "", false},
	}
	for _, c := range cases {
		src := "client\ndev tun\nremote vpn.lab.test\nauth-user-pass\n" + c.line + "<ca>\n" + string(readPKI(t, "ca.crt")) + "</ca>\n"
		p, ds := Parse([]byte(src), Options{Name: "x.ovpn", NoFiles: true, Now: testNow})
		if len(ds) != 0 {
			t.Fatalf("%q: %s", c.line, ds)
		}
		if p.MSSFix != c.max || p.MSSFixMode != c.mode || p.MSSFixDefault != c.byMTU {
			t.Errorf("%q: mssfix %d %q default %v, want %d %q %v", c.line, p.MSSFix, p.MSSFixMode, p.MSSFixDefault, c.max, c.mode, c.byMTU)
		}
		want := c.mode
		if want == "" {
			want = "link"
		}
		if s := p.Summary(); s.MSSFix != c.max || s.MSSFixMode != want || s.MSSFixByMTU != c.byMTU {
			t.Errorf("%q: summary mssfix %d %q default %v, want %d %q %v", c.line, s.MSSFix, s.MSSFixMode, s.MSSFixByMTU, c.max, want, c.byMTU)
		}
	}
}
