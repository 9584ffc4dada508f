package ctrlmsg

import (
	"strings"
	"testing"
)

func FuzzParseControlMessage(f *testing.F) {
	for _, s := range []string{realistic, "PUSH_REQUEST", "AUTH_FAILED,CRV1:R:st:dXNlcg==:https://a:b/c", "AUTH_FAILED,TEMP[backoff 1]:x",
		"AUTH_PENDING,timeout 30", "INFO_PRE,WEB_AUTH::https://x", "CR_RESPONSE,YWJj", "RESTART,x", "HALT", "EXIT", "INFO,CR_TEXT:E:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		// Rendering and parsing again must be stable.
		m2, err := Parse(m.String())
		if err != nil {
			t.Fatalf("re-parse of %q failed: %v", m.String(), err)
		}
		if m2.String() != m.String() {
			t.Fatalf("unstable: %q -> %q", m.String(), m2.String())
		}
	})
}

func FuzzPushReply(f *testing.F) {
	f.Add(realistic)
	f.Add("PUSH_REPLY,route 10.0.0.0 255.0.0.0 vpn_gateway 5,route-ipv6 2000::/3,echo \"a,b\",dhcp-option DOMAIN x.y,push-continuation 2")
	f.Add("PUSH_REPLY,ifconfig 10.8.0.6 10.8.0.5,topology net30,inactive 5 10,auth-token-user YQ==")
	f.Add("PUSH_REPLY,dns server 0 address 192.0.2.53 [2001:db8::53]:5353,dns server 0 resolve-domains corp.example,dns server 0 transport DoT,dns search-domains corp.example")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			return
		}
		r, ok := m.(PushReply)
		if !ok {
			return
		}
		p, err := ParsePushOptions(r.Options)
		if err != nil {
			return
		}
		// What parsed cleanly must survive a build/parse round trip.
		msgs, err := BuildPushReplies(p.Options(), 4096)
		if err != nil {
			return
		}
		var acc PushAccumulator
		for _, mm := range msgs {
			pm, err := Parse(mm)
			if err != nil {
				t.Fatalf("built %q does not parse: %v", mm, err)
			}
			acc.Add(pm.(PushReply))
		}
		p2, err := ParsePushOptions(acc.Options())
		if err != nil {
			t.Fatalf("rebuilt options fail: %v\n%q", err, acc.Options())
		}
		if strings.Join(p2.Options(), "|") != strings.Join(p.Options(), "|") {
			t.Fatalf("round trip differs:\n%q\n%q", p.Options(), p2.Options())
		}
	})
}
