package diagnose

import (
	"regexp"
	"strings"
)

// secretKeys are key fragments whose values are never kept (slog's
// key=value, JSON "key": value, OpenVPN's "auth-token TOKEN").
var secretKeys = `[A-Za-z0-9_.-]*(?:pass|secret|token|key|saml|assertion|answer|credential|cookie|session_id|sess_id)[A-Za-z0-9_.-]*`

var (
	// key=value and key="quoted value" (slog text handler).
	kvRe = regexp.MustCompile(`(?i)\b(` + secretKeys + `)=("(?:[^"\\]|\\.)*"|[^\s]*)`)
	// "key": "value" or "key": value (JSON).
	jsonRe = regexp.MustCompile(`(?i)("` + secretKeys + `"\s*:\s*)("(?:[^"\\]|\\.)*"|[^\s,}\]]+)`)
	// OpenVPN words followed by a secret: auth-token X, password X.
	wordRe = regexp.MustCompile(`(?i)\b(auth-token(?:-user)?|password|passwd)(\s+)([^\s,"]+)`)
	// Challenge responses and session ids carry secrets.
	markerRe = regexp.MustCompile(`[^\s,"]*SESS_ID[^\s,"]*`)
	crvRe    = regexp.MustCompile(`[^\s"]*(?:SCRV1|CRV1):[^\s"]*`)
	// Long base64 runs: SAML assertions, keys, tokens.
	b64Re = regexp.MustCompile(`[A-Za-z0-9+/_-]{80,}={0,2}`)
	// Inline key material of a profile.
	inlineRe = regexp.MustCompile(`(?s)<(key|tls-auth|tls-crypt|tls-crypt-v2|secret|pkcs12|auth-user-pass|http-proxy-user-pass)>.*?</(?:key|tls-auth|tls-crypt|tls-crypt-v2|secret|pkcs12|auth-user-pass|http-proxy-user-pass)>`)
	pemRe    = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----`)
)

// Redacted replaces every secret Redact removes.
const Redacted = "[redacted]"

// Redact removes secrets from log or state text: PEM blocks and inline key
// material, values of keys that name a secret (password, token, key, SAML,
// assertion, answer, credential, cookie), OpenVPN auth-token and password
// words, challenge responses (CRV1/SCRV1), session ids and long base64
// runs (SAML assertions, keys, tokens). It errs towards removing too much.
func Redact(text string) string {
	text = pemRe.ReplaceAllString(text, "-----"+Redacted+" PEM block-----")
	text = inlineRe.ReplaceAllString(text, "<$1>"+Redacted+"</$1>")
	text = kvRe.ReplaceAllString(text, "$1="+Redacted)
	text = jsonRe.ReplaceAllStringFunc(text, func(m string) string {
		sm := jsonRe.FindStringSubmatch(m)
		switch sm[2] {
		case "true", "false", "null", `""`:
			return m // "private_key": true says only that there is one
		}
		return sm[1] + `"` + Redacted + `"`
	})
	text = wordRe.ReplaceAllString(text, "$1$2"+Redacted)
	text = crvRe.ReplaceAllString(text, Redacted)
	text = markerRe.ReplaceAllString(text, Redacted)
	text = b64Re.ReplaceAllStringFunc(text, func(s string) string {
		if strings.Trim(s, "-_") == "" {
			return s
		}
		return Redacted
	})
	return text
}
