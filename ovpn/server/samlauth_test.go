package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/export"
	"github.com/cvpn/cvpn/ovpn/server/pki"
	"github.com/cvpn/cvpn/samlflow"
)

var crv1RE = regexp.MustCompile(`^CRV1:R:([0-9a-f]{32}):([A-Za-z0-9+/=]*):(http://.+)$`)

type samlFixture struct {
	idp  *samlidp.IdP
	auth *SAMLAuthenticator
	peer netip.AddrPort
}

func newSAMLFixture(t *testing.T) *samlFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	idp, err := samlidp.Start(ctx, samlidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	if err := idp.AddUser(samlidp.User{Name: "alice", Password: "pw", Email: "alice@example.com", Groups: []string{"eng", "Ops"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(path, idp.MetadataXML, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := LoadSAMLAuthenticator(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &samlFixture{idp: idp, auth: a, peer: netip.MustParseAddrPort("192.0.2.7:40000")}
}

func (f *samlFixture) req(password string) AuthRequest {
	return AuthRequest{ConnectionID: "cvpn-connection-1", Username: "N/A", Password: password, Framing: km2.AWS, Client: f.peer}
}

// phase1 runs phase 1 and returns the state id and the IdP URL.
func (f *samlFixture) phase1(t *testing.T) (string, string) {
	t.Helper()
	id, err := f.auth.Authenticate(context.Background(), f.req("ACS::35001"))
	var ae *AuthError
	if id != nil || !errors.As(err, &ae) {
		t.Fatalf("phase 1 = %v, %v; want an AuthError", id, err)
	}
	if !ae.Waiting || ae.Reason != "" {
		t.Errorf("phase 1 refusal Waiting=%v Reason=%q, want waiting-for-assertion without a failure reason", ae.Waiting, ae.Reason)
	}
	m := crv1RE.FindStringSubmatch(ae.ClientMessage)
	if m == nil {
		t.Fatalf("phase 1 client message %q is not CRV1:R:<state>:<user>:<url>", ae.ClientMessage)
	}
	if u, _ := base64.StdEncoding.DecodeString(m[2]); string(u) != "N/A" {
		t.Errorf("CRV1 user field %q decodes to %q, want N/A", m[2], u)
	}
	if !strings.HasPrefix(m[3], f.idp.SSOURL+"?SAMLRequest=") {
		t.Errorf("IdP URL %q does not start with %s?SAMLRequest=", m[3], f.idp.SSOURL)
	}
	return m[1], m[3]
}

func refusal(t *testing.T, id *Identity, err error, wantMsg, wantErr string) *AuthError {
	t.Helper()
	var ae *AuthError
	if id != nil || !errors.As(err, &ae) {
		t.Fatalf("got %v, %v; want an AuthError", id, err)
	}
	if ae.ClientMessage != wantMsg {
		t.Errorf("client message %q, want %q", ae.ClientMessage, wantMsg)
	}
	if !strings.Contains(ae.Error(), wantErr) {
		t.Errorf("error %q does not contain %q", ae.Error(), wantErr)
	}
	if ae.Waiting {
		t.Errorf("a refusal is marked waiting-for-assertion")
	}
	return ae
}

func TestSAMLTwoPhasesReplayAndToken(t *testing.T) {
	f := newSAMLFixture(t)
	state, url := f.phase1(t)
	resp, err := f.idp.Respond(url, "alice", samlidp.Forge{})
	if err != nil {
		t.Fatal(err)
	}
	pass := "CRV1::" + state + "::" + resp
	id, err := f.auth.Authenticate(context.Background(), f.req(pass))
	if err != nil {
		t.Fatalf("phase 2: %v", err)
	}
	if id.Username != "alice@example.com" || strings.Join(id.Groups, ",") != "eng,Ops" || !id.AssertionReceived || len(id.AuthToken) != 32 {
		t.Fatalf("phase 2 identity = %+v", id)
	}

	// The same CRV1 password again (a replay) is refused: the state is single-use.
	id2, err := f.auth.Authenticate(context.Background(), f.req(pass))
	ae := refusal(t, id2, err, msgSAMLUnknownState, "unknown or expired state")
	if !ae.AssertionReceived {
		t.Errorf("replay refusal not marked assertion-received")
	}
	// The same assertion under a fresh state is refused too.
	state2, _ := f.phase1(t)
	id2, err = f.auth.Authenticate(context.Background(), f.req("CRV1::"+state2+"::"+resp))
	refusal(t, id2, err, msgSAMLRejected, "SAML response rejected")

	// Reconnect with the pushed auth-token: no browser needed.
	back, err := f.auth.Authenticate(context.Background(), AuthRequest{Username: "alice@example.com", Password: id.AuthToken, Client: netip.MustParseAddrPort("198.51.100.1:5000")})
	if err != nil {
		t.Fatalf("auth-token reconnect: %v", err)
	}
	if back.Username != "alice@example.com" || strings.Join(back.Groups, ",") != "eng,Ops" || back.AuthToken != id.AuthToken || back.AssertionReceived {
		t.Errorf("auth-token reconnect identity = %+v", back)
	}
}

// TestSAMLTokenExpiresWithTheSession: the auth-token pushed after a
// sign-in lasts the endpoint's session timeout (here 8 h, injected clock),
// not a fixed 24 h: a reconnect just before is accepted (and the session
// told when the sign-in ends), one after is refused with "SESSION:" (the
// client's "sign in again").
func TestSAMLTokenExpiresWithTheSession(t *testing.T) {
	f := newSAMLFixture(t)
	start := time.Now()
	now := start
	f.auth.now = func() time.Time { return now }
	f.auth.SetSessionTimeout(8 * time.Hour)
	state, url := f.phase1(t)
	resp, err := f.idp.Respond(url, "alice", samlidp.Forge{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.auth.Authenticate(context.Background(), f.req("CRV1::"+state+"::"+resp))
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(8 * time.Hour); !id.Expires.Equal(want) {
		t.Errorf("sign-in expires %v, want %v", id.Expires, want)
	}
	now = start.Add(8*time.Hour - time.Second)
	back, err := f.auth.Authenticate(context.Background(), f.req(id.AuthToken))
	if err != nil {
		t.Fatalf("reconnect before the session timeout: %v", err)
	}
	if !back.Expires.Equal(id.Expires) {
		t.Errorf("a reconnect extends the sign-in to %v (was %v)", back.Expires, id.Expires)
	}
	now = start.Add(8 * time.Hour)
	got, err := f.auth.Authenticate(context.Background(), f.req(id.AuthToken))
	refusal(t, got, err, msgSAMLSessionExpired, "expired")
	if !strings.HasPrefix(msgSAMLSessionExpired, "SESSION:") {
		t.Errorf("expiry message %q lacks the SESSION: marker clients look for", msgSAMLSessionExpired)
	}
	// The token is gone: it never signs anyone in again.
	got, err = f.auth.Authenticate(context.Background(), f.req(id.AuthToken))
	refusal(t, got, err, msgSAMLNotFederated, "neither ACS::<port> nor a CRV1")
}

// TestServerTokenLastsSessionTimeout: the server gives its SAML
// authenticator the configured session timeout.
func TestServerTokenLastsSessionTimeout(t *testing.T) {
	f := newSAMLFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "idp.xml")
	if err := os.WriteFile(path, f.idp.MetadataXML, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range []int{8, 10, 12, 24} {
		cfg := testSAMLConfig(t, dir, path, h)
		s, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		a := s.auth.(*SAMLAuthenticator)
		if a.tokenTTL != time.Duration(h)*time.Hour {
			t.Errorf("session_timeout_hours = %d: token lasts %s", h, a.tokenTTL)
		}
	}
}

func TestSAMLRefusals(t *testing.T) {
	f := newSAMLFixture(t)

	// A plain password (profile without auth-federate): the password never appears.
	id, err := f.auth.Authenticate(context.Background(), f.req("hunter2-secret"))
	ae := refusal(t, id, err, msgSAMLNotFederated, "profile without auth-federate")
	if strings.Contains(ae.Error(), "hunter2") {
		t.Errorf("error leaks the password: %q", ae.Error())
	}
	if ae.AssertionReceived {
		t.Errorf("plain password marked assertion-received")
	}

	// Phase 1 with a malformed port.
	id, err = f.auth.Authenticate(context.Background(), f.req("ACS::http"))
	refusal(t, id, err, "", `password "ACS::http" is not ACS::<port>`)

	// Phase 2 from another address than phase 1.
	state, url := f.phase1(t)
	resp, err := f.idp.Respond(url, "alice", samlidp.Forge{})
	if err != nil {
		t.Fatal(err)
	}
	r := f.req("CRV1::" + state + "::" + resp)
	r.Client = netip.MustParseAddrPort("203.0.113.9:40000")
	id, err = f.auth.Authenticate(context.Background(), r)
	refusal(t, id, err, msgSAMLOtherAddress, "phase 1 came from 192.0.2.7")
	// ... and the state is gone afterwards.
	id, err = f.auth.Authenticate(context.Background(), f.req("CRV1::"+state+"::"+resp))
	refusal(t, id, err, msgSAMLUnknownState, "unknown or expired state")

	// A state the server never issued.
	id, err = f.auth.Authenticate(context.Background(), f.req("CRV1::00112233445566778899aabbccddeeff::"+resp))
	refusal(t, id, err, msgSAMLUnknownState, `unknown or expired state "00112233445566778899aabbccddeeff"`)

	// Over 128 KB.
	state, _ = f.phase1(t)
	big := strings.Repeat("A", samlflow.MaxResponseSize+4)
	id, err = f.auth.Authenticate(context.Background(), f.req("CRV1::"+state+"::"+big))
	ae = refusal(t, id, err, msgSAMLTooLarge, "exceeds the maximum size")
	if !errors.Is(ae, samlflow.ErrTooLarge) {
		t.Errorf("oversize refusal does not match samlflow.ErrTooLarge")
	}

	// Tampered signed content: the assertion's NameID changed after signing.
	state, url = f.phase1(t)
	resp, err = f.idp.Respond(url, "alice", samlidp.Forge{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(resp)
	tampered := base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(raw), "alice@example.com", "admin@example.com", 1)))
	id, err = f.auth.Authenticate(context.Background(), f.req("CRV1::"+state+"::"+tampered))
	refusal(t, id, err, msgSAMLRejected, "SAML response rejected")

	// A cancelled context is honoured.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.auth.Authenticate(ctx, f.req("ACS::35001")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestParseCRV1Response(t *testing.T) {
	for _, tc := range []struct {
		in, state, resp string
		ok              bool
	}{
		{"CRV1::abc123::PHNhbWxwOlJlc3BvbnNlLz4=", "abc123", "PHNhbWxwOlJlc3BvbnNlLz4=", true},
		{"CRV1::abc::x::y", "abc", "x::y", true},
		{"CRV1::::resp", "", "", false},
		{"CRV1::abc::", "", "", false},
		{"CRV1::abc", "", "", false},
		{"CRV1:R:abc::resp", "", "", false},
		{"CRV1::a b::resp", "", "", false},
		{"crv1::abc::resp", "", "", false},
	} {
		s, r, ok := ParseCRV1Response(tc.in)
		if s != tc.state || r != tc.resp || ok != tc.ok {
			t.Errorf("ParseCRV1Response(%q) = %q, %q, %v; want %q, %q, %v", tc.in, s, r, ok, tc.state, tc.resp, tc.ok)
		}
	}
}

func FuzzParseCRV1Response(f *testing.F) {
	f.Add("CRV1::abc::resp")
	f.Add("CRV1::::")
	f.Fuzz(func(t *testing.T, in string) {
		s, r, ok := ParseCRV1Response(in)
		if !ok {
			return
		}
		if s == "" || r == "" || strings.ContainsAny(s, ": \t\r\n") || "CRV1::"+s+"::"+r != in {
			t.Fatalf("ParseCRV1Response(%q) = %q, %q: does not reassemble", in, s, r)
		}
	})
}

func TestLoadSAMLAuthenticatorErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadSAMLAuthenticator(filepath.Join(dir, "missing.xml"), nil, nil); err == nil || !strings.Contains(err.Error(), "authentication.saml_idp_metadata") || !strings.Contains(err.Error(), "missing.xml") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.xml")
	if err := os.WriteFile(bad, []byte("<html/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSAMLAuthenticator(bad, nil, nil); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("bad metadata: %v", err)
	}
}

// testSAMLConfig is a lab server.toml (in dir, made once) with federated
// sign-in from the IdP metadata at idpPath and the given session timeout.
func testSAMLConfig(t *testing.T, dir, idpPath string, hours int) *config.Config {
	t.Helper()
	p := filepath.Join(dir, "server.toml")
	if _, err := os.Stat(p); err != nil {
		if _, err := export.InitLab(dir, export.InitOptions{Listen: "127.0.0.1:0", PKI: pki.Options{KeyType: pki.ECDSAP256}}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	doc := regexp.MustCompile(`(?m)^session_timeout_hours = \d+`).ReplaceAllString(string(b), fmt.Sprintf("session_timeout_hours = %d", hours))
	doc = strings.Replace(doc, `saml_idp_metadata = ""`, fmt.Sprintf("saml_idp_metadata = %q", idpPath), 1)
	c, err := config.Parse(p, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
