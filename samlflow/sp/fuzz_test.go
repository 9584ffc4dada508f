package sp_test

import (
	"encoding/base64"
	"testing"

	"github.com/cvpn/cvpn/internal/testkit/samlidp"
	"github.com/cvpn/cvpn/samlflow/sp"
)

// FuzzComplete feeds mutated SAML responses (seeded with a genuine signed
// one) to Complete. Invariants: no panic escapes, and nothing but the
// genuine, unmodified response is ever accepted.
func FuzzComplete(f *testing.F) {
	fx := setup(f, sp.Config{})
	_, genuine := fx.respond(f, samlidp.Forge{})
	raw, _ := base64.StdEncoding.DecodeString(genuine)
	f.Add(raw)
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:Response>`))
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Issuer/><saml:Assertion ID="a"><saml:Issuer/><saml:Subject/></saml:Assertion></samlp:Response>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		st, _, err := fx.sp.Begin()
		if err != nil {
			t.Fatal(err)
		}
		id, err := fx.sp.Complete(st, base64.StdEncoding.EncodeToString(doc))
		if err == nil {
			// Only a response signed by the IdP for this state could pass,
			// and the fuzzer cannot produce one for a fresh state.
			t.Fatalf("accepted a fuzzed response for user %q", id.User)
		}
	})
}
