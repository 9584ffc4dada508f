package diagnose

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	saml := strings.Repeat("PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6", 3)
	in := `time=2026-12-07T00:00:00Z level=INFO msg=event password=hunter2 user=alice
level=DEBUG msg=push auth_token="tok en-secret-1" detail="PUSH_REPLY,auth-token SESS_ID_AT_abc123,ping 10"
{"event":"saml","saml_response":"` + saml + `","url":"https://idp.test/sso"}
CRV1:R,E:abc:dXNlcg==:secret-answer-9
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC
-----END PRIVATE KEY-----
<tls-crypt>
6acef03f62675b4b1bbd03e53b187727
</tls-crypt>
auth-token plain-token-7 more
`
	out := Redact(in)
	for _, secret := range []string{"hunter2", "tok en-secret-1", "SESS_ID_AT_abc123", saml[:40], "secret-answer-9",
		"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC", "6acef03f62675b4b1bbd03e53b187727", "plain-token-7"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q survived redaction:\n%s", secret, out)
		}
	}
	for _, keep := range []string{"user=alice", "msg=event", `"url":"https://idp.test/sso"`, "level=DEBUG", "ping 10"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q was removed but is no secret:\n%s", keep, out)
		}
	}
}
