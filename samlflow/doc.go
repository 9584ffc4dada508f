// Package samlflow holds the pieces of AWS Client VPN federated (SAML 2.0)
// sign-in that the client and the reference server share: the service-provider
// constants every IdP is configured with (audience, ACS URL, port), the
// 128 KB size limit, and the first sanity check on a SAMLResponse value
// (base64 of a samlp:Response document).
//
// The work itself is done in subpackages:
//
//   - listener: the client's one-shot HTTP receiver on 127.0.0.1:35001.
//   - browser: opens the IdP URL in the desktop user's browser (never as root).
//   - sp: the server's service provider (AuthnRequest, response validation).
//
// Their test harnesses live outside the product tree: internal/testkit/samlidp
// (a local test IdP with a login form, for tests and demos) and
// internal/testkit/chromium (drives headless Chromium over the DevTools
// protocol in tests).
package samlflow
