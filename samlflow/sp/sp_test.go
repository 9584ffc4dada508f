package sp_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/samlflow"
	"github.com/cvpn/cvpn/samlflow/sp"
)

type fixture struct {
	idp *samlidp.IdP
	sp  *sp.SP
}

func setup(t testing.TB, cfg sp.Config) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	idp, err := samlidp.Start(ctx, samlidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	if err := idp.AddUser(samlidp.User{
		Name: "alice", Password: "wonderland", Email: "alice@example.com",
		FirstName: "Alice", LastName: "Liddell", Groups: []string{"Engineering", "vpn-admins"},
	}); err != nil {
		t.Fatal(err)
	}
	cfg.IdPMetadata = idp.MetadataXML
	s, err := sp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{idp: idp, sp: s}
}

// respond runs Begin and has the IdP answer for alice.
func (f *fixture) respond(t testing.TB, forge samlidp.Forge) (state, resp string) {
	t.Helper()
	state, redirect, err := f.sp.Begin()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = f.idp.Respond(redirect, "alice", forge)
	if err != nil {
		t.Fatal(err)
	}
	return state, resp
}

func mustReject(t *testing.T, s *sp.SP, state, resp, want string) {
	t.Helper()
	id, err := s.Complete(state, resp)
	if err == nil {
		t.Fatalf("accepted (user %q), want an error containing %q", id.User, want)
	}
	var se *sp.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %T is not *sp.Error: %v", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if strings.Contains(err.Error(), resp) && len(resp) > 20 {
		t.Fatal("error message contains the SAML response")
	}
}

func decode(t *testing.T, b64 string) *etree.Document {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc
}

func encode(t *testing.T, doc *etree.Document) string {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestBeginRequest(t *testing.T) {
	f := setup(t, sp.Config{})
	state, redirect, err := f.sp.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if len(state) != 32 || strings.Contains(state, ":") {
		t.Errorf("state id %q: want 32 hex chars, no colon (CRV1 field)", state)
	}
	u, err := url.Parse(redirect)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != f.idp.SSOURL {
		t.Errorf("redirect goes to %q, want %q", got, f.idp.SSOURL)
	}
	q := u.Query()
	if q.Has("Signature") || q.Has("SigAlg") {
		t.Error("AuthnRequest must be unsigned")
	}
	z, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	xmlb, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xmlb); err != nil {
		t.Fatal(err)
	}
	r := doc.Root()
	if r.Tag != "AuthnRequest" || r.NamespaceURI() != samlflow.ProtocolNS {
		t.Fatalf("root %s", r.FullTag())
	}
	if got := r.SelectAttrValue("AssertionConsumerServiceURL", ""); got != "http://127.0.0.1:35001" {
		t.Errorf("ACS %q", got)
	}
	if got := r.SelectAttrValue("ProtocolBinding", ""); got != saml.HTTPPostBinding {
		t.Errorf("ProtocolBinding %q", got)
	}
	if iss := r.FindElement("./Issuer"); iss == nil || iss.Text() != "urn:amazon:webservices:clientvpn" {
		t.Errorf("issuer %v", iss)
	}
	if r.FindElement("./Signature") != nil {
		t.Error("AuthnRequest carries a Signature")
	}
	// A second Begin gives a different state and request.
	state2, redirect2, _ := f.sp.Begin()
	if state2 == state || redirect2 == redirect {
		t.Error("Begin repeated a state or request")
	}
}

func TestValidResponse(t *testing.T) {
	f := setup(t, sp.Config{})
	state, resp := f.respond(t, samlidp.Forge{})
	id, err := f.sp.Complete(state, resp)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice@example.com" || id.FirstName != "Alice" || id.LastName != "Liddell" {
		t.Errorf("identity %+v", id)
	}
	if len(id.Groups) != 2 || id.Groups[0] != "Engineering" || id.Groups[1] != "vpn-admins" {
		t.Errorf("groups %q", id.Groups)
	}
	if id.AssertionID == "" || id.Issuer != f.sp.IdPEntityID() {
		t.Errorf("assertion id %q issuer %q", id.AssertionID, id.Issuer)
	}
}

func TestReplayedResponse(t *testing.T) {
	f := setup(t, sp.Config{})
	state, resp := f.respond(t, samlidp.Forge{})
	first, err := f.sp.Complete(state, resp)
	if err != nil {
		t.Fatal(err)
	}
	// The same response again: the state is gone.
	mustReject(t, f.sp, state, resp, "unknown state id")
	// A new sign-in whose assertion reuses the first assertion's ID.
	state2, resp2 := f.respond(t, samlidp.Forge{Assertion: func(a *saml.Assertion) { a.ID = first.AssertionID }})
	mustReject(t, f.sp, state2, resp2, "already used (replay)")
}

func TestWrongInResponseTo(t *testing.T) {
	f := setup(t, sp.Config{})
	_, respA := f.respond(t, samlidp.Forge{})
	stateB, _, err := f.sp.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustReject(t, f.sp, stateB, respA, "InResponseTo")
}

func TestTamperedSignature(t *testing.T) {
	f := setup(t, sp.Config{})
	// Change the signed NameID after signing.
	state, resp := f.respond(t, samlidp.Forge{Response: func(r *etree.Element) {
		r.FindElement("./Assertion/Subject/NameID").SetText("mallory@example.com")
	}})
	mustReject(t, f.sp, state, resp, "cannot validate signature")
	// Flip a byte of the response SignatureValue.
	state, resp = f.respond(t, samlidp.Forge{Response: func(r *etree.Element) {
		sv := r.FindElement("./Signature/SignatureValue")
		b := []byte(sv.Text())
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		sv.SetText(string(b))
	}})
	mustReject(t, f.sp, state, resp, "cannot validate signature")
	// Drop the response signature and change a group: the assertion signature breaks.
	state, resp = f.respond(t, samlidp.Forge{Response: func(r *etree.Element) {
		r.RemoveChild(r.FindElement("./Signature"))
		for _, v := range r.FindElements("./Assertion/AttributeStatement/Attribute/AttributeValue") {
			if v.Text() == "Engineering" {
				v.SetText("Domain Admins")
			}
		}
	}})
	mustReject(t, f.sp, state, resp, "cannot validate signature")
	// No signature at all.
	state, resp = f.respond(t, samlidp.Forge{Response: func(r *etree.Element) {
		r.RemoveChild(r.FindElement("./Signature"))
		a := r.FindElement("./Assertion")
		a.RemoveChild(a.FindElement("./Signature"))
	}})
	mustReject(t, f.sp, state, resp, "signature")
}

func TestSignedBySomeoneElse(t *testing.T) {
	f := setup(t, sp.Config{})
	other, err := samlidp.Start(context.Background(), samlidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.AddUser(samlidp.User{Name: "alice", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	state, redirect, _ := f.sp.Begin()
	resp, err := other.Respond(redirect, "alice", samlidp.Forge{AnyDestination: true})
	if err != nil {
		t.Fatal(err)
	}
	mustReject(t, f.sp, state, resp, "Issuer")
	// Same issuer string, wrong key.
	state, redirect, _ = f.sp.Begin()
	resp, err = other.Respond(redirect, "alice", samlidp.Forge{AnyDestination: true})
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, resp)
	for _, iss := range doc.FindElements("//Issuer") {
		iss.SetText(f.sp.IdPEntityID())
	}
	mustReject(t, f.sp, state, encode(t, doc), "cannot validate signature")
}

func TestWrongAudience(t *testing.T) {
	f := setup(t, sp.Config{})
	state, resp := f.respond(t, samlidp.Forge{Assertion: func(a *saml.Assertion) {
		a.Conditions.AudienceRestrictions[0].Audience.Value = "urn:example:other-app"
	}})
	mustReject(t, f.sp, state, resp, "AudienceRestriction")
	// No audience restriction at all is not enough for us either.
	state, resp = f.respond(t, samlidp.Forge{Assertion: func(a *saml.Assertion) {
		a.Conditions.AudienceRestrictions = nil
	}})
	mustReject(t, f.sp, state, resp, `audience is not "urn:amazon:webservices:clientvpn"`)
}

func TestExpiredAssertion(t *testing.T) {
	f := setup(t, sp.Config{})
	past := time.Now().Add(-30 * time.Minute)
	state, resp := f.respond(t, samlidp.Forge{Assertion: func(a *saml.Assertion) {
		a.Conditions.NotBefore = past.Add(-time.Minute)
		a.Conditions.NotOnOrAfter = past
	}})
	mustReject(t, f.sp, state, resp, "expired")
	// The whole response issued long ago.
	state, resp = f.respond(t, samlidp.Forge{Now: time.Now().Add(-10 * time.Minute)})
	mustReject(t, f.sp, state, resp, "expired")
	// Not yet valid.
	state, resp = f.respond(t, samlidp.Forge{Assertion: func(a *saml.Assertion) {
		a.Conditions.NotBefore = time.Now().Add(time.Hour)
		a.Conditions.NotOnOrAfter = time.Now().Add(2 * time.Hour)
	}})
	mustReject(t, f.sp, state, resp, "not yet valid")
}

func TestOurClockExpiresAssertion(t *testing.T) {
	// crewjam checks with the real clock; our own check uses Config.Now.
	now := time.Now()
	clock := func() time.Time { return now }
	f := setup(t, sp.Config{Now: clock})
	state, resp := f.respond(t, samlidp.Forge{})
	now = now.Add(9 * time.Minute) // within StateTTL, past NotOnOrAfter+skew
	mustReject(t, f.sp, state, resp, "the assertion expired at")
}

func TestStateTTL(t *testing.T) {
	now := time.Now()
	f := setup(t, sp.Config{Now: func() time.Time { return now }, StateTTL: time.Minute})
	state, resp := f.respond(t, samlidp.Forge{})
	now = now.Add(2 * time.Minute)
	mustReject(t, f.sp, state, resp, "took longer than 1m0s")
}

func TestUnknownState(t *testing.T) {
	f := setup(t, sp.Config{})
	_, resp := f.respond(t, samlidp.Forge{})
	mustReject(t, f.sp, "0123456789abcdef0123456789abcdef", resp, "unknown state id")
}

func TestSignatureWrapping(t *testing.T) {
	f := setup(t, sp.Config{})
	evil := func(a *etree.Element, id string) *etree.Element {
		e := a.Copy()
		e.CreateAttr("ID", id)
		if s := e.FindElement("./Signature"); s != nil {
			e.RemoveChild(s)
		}
		e.FindElement("./Subject/NameID").SetText("mallory@example.com")
		return e
	}
	cases := map[string]struct {
		mutate func(r *etree.Element)
		want   string
	}{
		"second unsigned assertion after the signed one": {func(r *etree.Element) {
			r.AddChild(evil(r.FindElement("./Assertion"), "evil-1"))
		}, "exactly one Assertion, found 2"},
		"unsigned assertion before the signed one": {func(r *etree.Element) {
			a := r.FindElement("./Assertion")
			r.InsertChildAt(a.Index(), evil(a, "evil-2"))
		}, "exactly one Assertion, found 2"},
		"signed assertion moved into Extensions, evil in its place": {func(r *etree.Element) {
			a := r.FindElement("./Assertion")
			r.RemoveChild(a)
			ext := r.CreateElement("samlp:Extensions")
			ext.AddChild(a)
			r.AddChild(evil(a, "evil-3"))
		}, "exactly one Assertion, found 2"},
		"signed assertion moved into the Signature Object": {func(r *etree.Element) {
			a := r.FindElement("./Assertion")
			r.RemoveChild(a)
			obj := r.FindElement("./Signature").CreateElement("ds:Object")
			obj.AddChild(a)
			r.AddChild(evil(a, "evil-4"))
		}, "exactly one Assertion, found 2"},
		"duplicate ID": {func(r *etree.Element) {
			a := r.FindElement("./Assertion")
			e := evil(a, a.SelectAttrValue("ID", ""))
			ext := r.CreateElement("samlp:Extensions")
			ext.AddChild(e)
		}, "appears on more than one element"},
		"encrypted assertion": {func(r *etree.Element) {
			r.CreateElement("saml:EncryptedAssertion")
		}, "encrypted assertions are not supported"},
		"signature under Subject": {func(r *etree.Element) {
			s := r.FindElement("./Signature").Copy()
			r.FindElement("./Assertion/Subject").AddChild(s)
		}, "Signature element inside"},
		"assertion in another namespace": {func(r *etree.Element) {
			a := r.FindElement("./Assertion")
			a.CreateAttr("xmlns:x", "urn:evil")
			a.Space = "x"
		}, "must be a saml:Assertion directly under the Response"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			state, resp := f.respond(t, samlidp.Forge{Response: c.mutate})
			mustReject(t, f.sp, state, resp, c.want)
		})
	}
}

func TestMissingIssuer(t *testing.T) {
	f := setup(t, sp.Config{})
	state, resp := f.respond(t, samlidp.Forge{Response: func(r *etree.Element) {
		r.RemoveChild(r.FindElement("./Issuer"))
	}})
	mustReject(t, f.sp, state, resp, "the Response has no Issuer")
	state, resp = f.respond(t, samlidp.Forge{AssertionElement: func(a *etree.Element) {
		a.RemoveChild(a.FindElement("./Issuer"))
	}})
	mustReject(t, f.sp, state, resp, "the Assertion has no Issuer")
	// Bare minimum documents without Issuer must not panic either.
	state, _, _ = f.sp.Begin()
	bare := base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r"><saml:Assertion ID="a"/></samlp:Response>`))
	mustReject(t, f.sp, state, bare, "no Issuer")
	// Issuer in a foreign namespace does not count.
	state, resp = f.respond(t, samlidp.Forge{Response: func(r *etree.Element) {
		iss := r.FindElement("./Issuer")
		iss.CreateAttr("xmlns:x", "urn:evil")
		iss.Space = "x"
	}})
	mustReject(t, f.sp, state, resp, "exactly one saml:Issuer")
}

func TestNameIDSpoof(t *testing.T) {
	f := setup(t, sp.Config{})
	foreign := func(text string) *etree.Element {
		e := etree.NewElement("evil:NameID")
		e.CreateAttr("xmlns:evil", "urn:example:evil")
		e.SetText(text)
		return e
	}
	// Shape 1: a foreign-namespace NameID before the real one, inside the
	// signed assertion (the signature is valid).
	state, resp := f.respond(t, samlidp.Forge{AssertionElement: func(a *etree.Element) {
		s := a.FindElement("./Subject")
		s.InsertChildAt(0, foreign("mallory@example.com"))
	}})
	mustReject(t, f.sp, state, resp, "exactly one saml:NameID in the SAML assertion namespace")
	// Shape 2: the only NameID is in a foreign namespace.
	state, resp = f.respond(t, samlidp.Forge{AssertionElement: func(a *etree.Element) {
		s := a.FindElement("./Subject")
		real := s.FindElement("./NameID")
		s.InsertChildAt(real.Index(), foreign("mallory@example.com"))
		s.RemoveChild(real)
	}})
	mustReject(t, f.sp, state, resp, "exactly one saml:NameID in the SAML assertion namespace")
	// Control: the same re-signing path without a spoof is accepted.
	state, resp = f.respond(t, samlidp.Forge{AssertionElement: func(a *etree.Element) {}})
	if id, err := f.sp.Complete(state, resp); err != nil || id.User != "alice@example.com" {
		t.Fatalf("control: %v %+v", err, id)
	}
}

func TestOversizeResponse(t *testing.T) {
	f := setup(t, sp.Config{})
	state, resp := f.respond(t, samlidp.Forge{Assertion: func(a *saml.Assertion) {
		a.AttributeStatements[0].Attributes = append(a.AttributeStatements[0].Attributes, saml.Attribute{
			Name: "padding", Values: []saml.AttributeValue{{Value: strings.Repeat("x", 100*1024)}},
		})
	}})
	if len(resp) <= samlflow.MaxResponseSize {
		t.Fatalf("test response only %d bytes", len(resp))
	}
	mustReject(t, f.sp, state, resp, "exceeds the maximum size of 131072 bytes (128 KB)")
	_, err := f.sp.Complete(state, resp)
	if err == nil {
		t.Fatal("accepted")
	}
}

func TestGarbage(t *testing.T) {
	f := setup(t, sp.Config{})
	for _, in := range []string{"", "!!!", base64.StdEncoding.EncodeToString([]byte("<x/>")),
		base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">`))} {
		state, _, _ := f.sp.Begin()
		if _, err := f.sp.Complete(state, in); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := sp.New(sp.Config{}); err == nil || !strings.Contains(err.Error(), "IdPMetadata is empty") {
		t.Errorf("empty: %v", err)
	}
	if _, err := sp.New(sp.Config{IdPMetadata: []byte("<x")}); err == nil || !strings.Contains(err.Error(), "not SAML metadata") {
		t.Errorf("broken: %v", err)
	}
	md := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:x"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/sso"/></IDPSSODescriptor></EntityDescriptor>`
	if _, err := sp.New(sp.Config{IdPMetadata: []byte(md)}); err == nil || !strings.Contains(err.Error(), "no signing certificate") {
		t.Errorf("no key: %v", err)
	}
}
