// Package sp is the reference server's SAML 2.0 service provider for AWS
// Client VPN federated sign-in.
//
// Phase 1 (Begin) builds an unsigned AuthnRequest for the HTTP-Redirect
// binding (issuer/audience urn:amazon:webservices:clientvpn, ACS
// http://127.0.0.1:35001) and binds its ID to a fresh state id; the server
// answers AUTH_FAILED,CRV1:R:<state_id>:<user field>:<redirect URL>.
// Phase 2 (Complete) validates the SAMLResponse the client sends as
// CRV1::<state_id>::<SAMLResponse> and returns the user's identity.
//
// Validation uses github.com/crewjam/saml v0.5.1 (signature, InResponseTo,
// audience, destination, recipient, time window) with goxmldsig v1.6.1, plus
// checks of our own around it for advisory GO-2026-6909 and signature
// wrapping: a recover() around all parsing, Issuer required on the response
// and the assertion, exactly one Assertion element anywhere in the document,
// no EncryptedAssertion, Signature elements only on the response or the
// assertion, unique ID attributes, the user name taken only from the signed
// assertion's saml:Subject/saml:NameID in the SAML assertion namespace, a
// replay cache of assertion IDs, and the 128 KB size cap.
package sp
