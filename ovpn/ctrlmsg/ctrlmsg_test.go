package ctrlmsg

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/routeopt"
)

const realistic = "PUSH_REPLY,redirect-gateway def1,dhcp-option DNS 10.0.0.2,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,key-derivation tls-ekm,protocol-flags cc-exit tls-ekm dyn-tls-crypt\x00"

func mustParse(t *testing.T, s string) Message {
	t.Helper()
	m, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return m
}

func TestRealisticPushReply(t *testing.T) {
	r, ok := mustParse(t, realistic).(PushReply)
	if !ok {
		t.Fatalf("not a PushReply")
	}
	if len(r.Options) != 11 || r.Continuation != 0 {
		t.Fatalf("options %q cont %d", r.Options, r.Continuation)
	}
	p, err := ParsePushOptions(r.Options)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	if p.RedirectGateway == nil || !p.RedirectGateway.Def1 || p.RedirectGateway.IPv6 {
		t.Fatalf("redirect %+v", p.RedirectGateway)
	}
	if !reflect.DeepEqual(p.DNS, []netip.Addr{a("10.0.0.2")}) || p.RouteGateway != a("10.8.0.1") || p.Topology != "subnet" {
		t.Fatalf("%+v", p)
	}
	if p.Ping != 10 || p.PingRestart != 60 || p.PeerID != 0 || p.Cipher != "AES-256-GCM" || !p.UsesEKM() {
		t.Fatalf("%+v", p)
	}
	if p.ProtocolFlags != (ProtocolFlags{CCExit: true, TLSEKM: true, DynTLSCrypt: true}) {
		t.Fatalf("flags %+v", p.ProtocolFlags)
	}
	pfx, peer, ok := p.IfConfigPrefix()
	if !ok || pfx != netip.MustParsePrefix("10.8.0.2/24") || peer.IsValid() {
		t.Fatalf("ifconfig %v %v", pfx, peer)
	}
	if len(p.Ignored) != 0 || p.ExplicitExitNotify != -1 || p.TunMTU != 0 {
		t.Fatalf("%+v", p)
	}
}

func TestAllOptions(t *testing.T) {
	opts := []string{
		"ifconfig 10.8.0.6 10.8.0.5", "topology net30",
		"ifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1",
		"route 172.31.0.0 255.255.0.0", "route 10.1.0.0 255.255.255.0 10.8.0.1 5", "route 192.168.7.7",
		"route 10.2.0.0 255.255.0.0 net_gateway", "route 10.3.0.0 255.255.0.0 default 7",
		"route-ipv6 2000::/3", "route-ipv6 fc00::/7 fd15:53b6:dead::1 3",
		"redirect-gateway def1 bypass-dhcp ipv6 !ipv4 block-local", "redirect-gateway local autolocal",
		"dhcp-option DNS 10.0.0.2", "dhcp-option DNS6 fd00::53", "dhcp-option DOMAIN corp.example",
		"dhcp-option DOMAIN-SEARCH a.example", "dhcp-option DOMAIN-ROUTE .", "dhcp-option ADAPTER_DOMAIN_SUFFIX x.example",
		"dhcp-option WINS 10.0.0.9",
		"tun-mtu 1400", "auth-token SESS_ID_abc", "auth-token-user YWxpY2U=", "explicit-exit-notify 2",
		"inactive 3600 1000000", "block-ipv6", `echo "msg-window hello, world"`, "route-metric 5", "dns server 1 address 1.1.1.1",
		"protocol-flags cc-exit future-flag",
	}
	p, err := ParsePushOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	pfx, peer, _ := p.IfConfigPrefix()
	if pfx.String() != "10.8.0.6/32" || peer.String() != "10.8.0.5" {
		t.Fatal(pfx, peer)
	}
	if p.IfConfigIPv6.Local.String() != "fd15:53b6:dead::2/64" || p.IfConfigIPv6.Remote.String() != "fd15:53b6:dead::1" {
		t.Fatal(p.IfConfigIPv6)
	}
	want := []Route{
		{Dst: netip.MustParsePrefix("172.31.0.0/16")},
		{Dst: netip.MustParsePrefix("10.1.0.0/24"), GatewayKind: routeopt.ExplicitGateway, Gateway: netip.MustParseAddr("10.8.0.1"), Metric: 5, HasMetric: true},
		{Dst: netip.MustParsePrefix("192.168.7.7/32")},
		{Dst: netip.MustParsePrefix("10.2.0.0/16"), GatewayKind: routeopt.NetGateway},
		{Dst: netip.MustParsePrefix("10.3.0.0/16"), Metric: 7, HasMetric: true},
	}
	if !reflect.DeepEqual(p.Routes, want) {
		t.Fatalf("routes %+v", p.Routes)
	}
	if len(p.RoutesIPv6) != 2 || p.RoutesIPv6[1].Metric != 3 || p.RoutesIPv6[1].Gateway.String() != "fd15:53b6:dead::1" {
		t.Fatalf("%+v", p.RoutesIPv6)
	}
	rg := *p.RedirectGateway
	if rg != (RedirectGateway{Def1: true, BypassDHCP: true, IPv6: true, NoIPv4: true, BlockLocal: true, Local: true, AutoLocal: true}) {
		t.Fatalf("%+v", rg)
	}
	if len(p.DNS) != 2 || p.Domain != "corp.example" || p.DomainSearch[0] != "a.example" || p.DomainRoute[0] != "." || p.AdapterDomainSuffix != "x.example" {
		t.Fatalf("%+v", p)
	}
	if p.TunMTU != 1400 || p.AuthToken != "SESS_ID_abc" || p.AuthTokenUser != "alice" || p.ExplicitExitNotify != 2 {
		t.Fatalf("%+v", p)
	}
	if *p.Inactive != (Inactive{3600, 1000000}) || !p.BlockIPv6 || p.Echo[0] != "msg-window hello, world" {
		t.Fatalf("%+v", p)
	}
	if !reflect.DeepEqual(p.DHCPOther, []string{"dhcp-option WINS 10.0.0.9"}) {
		t.Fatal(p.DHCPOther)
	}
	if a, ok := p.DNSOption.Active(); !ok || a.ID != 1 || a.Addresses[0].Addr().String() != "1.1.1.1" {
		t.Fatalf("dns option %+v", p.DNSOption)
	}
	if p.RouteMetric != 5 {
		t.Fatalf("route-metric %d, want 5", p.RouteMetric)
	}
	if !reflect.DeepEqual(p.Ignored, []string{"protocol-flags future-flag"}) {
		t.Fatalf("ignored %q", p.Ignored)
	}
}

func TestBadValues(t *testing.T) {
	cases := map[string]string{
		"ifconfig 10.8.0.300 255.255.255.0":   `"ifconfig 10.8.0.300 255.255.255.0"`,
		"route 10.0.0.0 255.0.255.0":          "netmask",
		"route 10.0.0.1 255.255.255.0":        "host bits",
		"route host.example 255.255.255.0":    "must be an IPv4 address",
		"route 10.0.0.0 255.0.0.0 10.8.0.1 x": "metric",
		"route 10.0.0.0 255.0.0.0 fe80::1":    "gateway",
		"route-ipv6 10.0.0.0/8":               "not an IPv6 network",
		"ping ten":                            "not a number",
		"ping-restart -5":                     "not a number",
		"peer-id 16777215":                    "peer id",
		"tun-mtu 99999":                       "MTU",
		"topology star":                       "unknown topology",
		"redirect-gateway def2":               `unknown flag "def2"`,
		"dhcp-option DNS 10.0.0":              "DNS server",
		"dhcp-option DNS6 10.0.0.1":           "DNS6 server",
		"dhcp-option DOMAIN bad..name":        "domain name",
		"key-derivation other":                "tls-ekm",
		"block-ipv6 yes":                      "0 argument",
		"route-gateway nowhere":               "dhcp",
		`echo "unterminated`:                  "unterminated",
		"ifconfig-ipv6 10.0.0.1/24":           "IPv6",
		"inactive 10 -1":                      "byte count",
		"auth-token-user !!!":                 "base64",
	}
	for opt, want := range cases {
		_, err := ParsePushOptions([]string{opt})
		var oe *OptionError
		if err == nil || !strings.Contains(err.Error(), want) || !errors.As(err, &oe) {
			t.Errorf("%q: got %v, want error containing %q", opt, err, want)
		}
	}
	// Good options survive next to bad ones, and every bad one is named.
	p, err := ParsePushOptions([]string{"ping 10", "ping x", "tun-mtu 0"})
	if p.Ping != 10 || err == nil || !strings.Contains(err.Error(), `"ping x"`) || !strings.Contains(err.Error(), `"tun-mtu 0"`) {
		t.Fatalf("%+v %v", p, err)
	}
	// Secrets never appear in errors.
	_, err = ParsePushOptions([]string{"auth-token a b"})
	if err == nil || strings.Contains(err.Error(), " a b") {
		t.Fatalf("auth-token error leaks: %v", err)
	}
	// Subnet topology requires a netmask.
	_, err = ParsePushOptions([]string{"topology subnet", "ifconfig 10.8.0.2 10.8.0.1"})
	if err == nil || !strings.Contains(err.Error(), "netmask") {
		t.Fatal(err)
	}
}

func TestContinuation(t *testing.T) {
	parts := []string{
		"PUSH_REPLY,route 10.1.0.0 255.255.0.0,push-continuation 2",
		"PUSH_REPLY,route 10.2.0.0 255.255.0.0,push-continuation 2",
		"PUSH_REPLY,ifconfig 10.8.0.2 255.255.255.0,topology subnet,push-continuation 1",
	}
	var acc PushAccumulator
	for i, s := range parts {
		r := mustParse(t, s).(PushReply)
		done, err := acc.Add(r)
		if err != nil {
			t.Fatal(err)
		}
		if done != (i == 2) {
			t.Fatalf("part %d done=%v", i, done)
		}
	}
	p, err := ParsePushOptions(acc.Options())
	if err != nil || len(p.Routes) != 2 || p.IfConfig == nil {
		t.Fatalf("%+v %v", p, err)
	}
	// A new reply after completion starts over.
	done, _ := acc.Add(PushReply{Options: []string{"ping 5"}})
	if !done || len(acc.Options()) != 1 {
		t.Fatal("restart")
	}
	if _, err := Parse("PUSH_REPLY,push-continuation 3"); err == nil {
		t.Fatal("continuation 3 accepted")
	}
	var many PushAccumulator
	var err2 error
	for i := 0; i <= MaxPushParts && err2 == nil; i++ {
		_, err2 = many.Add(PushReply{Continuation: 2})
	}
	if err2 == nil {
		t.Fatal("endless continuation accepted")
	}
}

func TestBuildPushReplies(t *testing.T) {
	p := NewPushOptions()
	p.RedirectGateway = &RedirectGateway{Def1: true, BypassDHCP: true}
	p.DNS = []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::53")}
	p.Domain = "corp.example"
	p.Topology = TopologySubnet
	p.IfConfig = &IfConfig{Local: netip.MustParseAddr("10.100.0.2"), Second: netip.MustParseAddr("255.255.252.0")}
	p.RouteGateway = netip.MustParseAddr("10.100.0.1")
	p.Ping, p.PingRestart, p.PeerID = 10, 60, 3
	p.Cipher = "AES-256-GCM"
	p.ProtocolFlags = ProtocolFlags{CCExit: true, TLSEKM: true}
	p.AuthToken = "tok"
	p.AuthTokenUser = "bob"
	p.Echo = []string{"banner Hi there"}
	p.Inactive = &Inactive{Seconds: 600}
	p.ExplicitExitNotify = 1
	for i := 0; i < 60; i++ {
		p.Routes = append(p.Routes, Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24)})
	}
	p.RoutesIPv6 = []Route{{Dst: netip.MustParsePrefix("2000::/3"), Metric: 2, HasMetric: true}}
	msgs, err := BuildPushReplies(p.Options(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	var acc PushAccumulator
	for i, m := range msgs {
		if len(m) > DefaultMaxPushReply {
			t.Fatalf("message %d is %d bytes", i, len(m))
		}
		wantSuffix := ",push-continuation 2"
		if i == len(msgs)-1 {
			wantSuffix = ",push-continuation 1"
		}
		if !strings.HasSuffix(m, wantSuffix) {
			t.Fatalf("message %d ends %q", i, m[len(m)-25:])
		}
		r := mustParse(t, m).(PushReply)
		acc.Add(r)
	}
	if !acc.Done() {
		t.Fatal("not done")
	}
	got, err := ParsePushOptions(acc.Options())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, p)
	}
	// Small replies have no continuation marker.
	msgs, _ = BuildPushReplies([]string{"ping 10"}, 0)
	if len(msgs) != 1 || msgs[0] != "PUSH_REPLY,ping 10" {
		t.Fatal(msgs)
	}
	if _, err := BuildPushReplies([]string{strings.Repeat("x", 2000)}, 0); err == nil {
		t.Fatal("oversized option accepted")
	}
}

func TestAuthMessages(t *testing.T) {
	af := mustParse(t, "AUTH_FAILED").(AuthFailed)
	if af.Reason != "" || af.Temp || af.Challenge != nil {
		t.Fatal(af)
	}
	af = mustParse(t, "AUTH_FAILED,bad password").(AuthFailed)
	if af.Reason != "bad password" || af.String() != "AUTH_FAILED,bad password" {
		t.Fatal(af)
	}
	af = mustParse(t, "AUTH_FAILED,TEMP[backoff 30,advance no]:try later").(AuthFailed)
	if !af.Temp || af.TempFlags != "backoff 30,advance no" || af.Reason != "try later" {
		t.Fatalf("%+v", af)
	}
	if af.String() != "AUTH_FAILED,TEMP[backoff 30,advance no]:try later" {
		t.Fatal(af.String())
	}
	af = mustParse(t, "AUTH_FAILED,TEMP").(AuthFailed)
	if !af.Temp || af.Reason != "" {
		t.Fatal(af)
	}
	// AWS SAML phase 1: the URL has colons.
	url := "https://idp.example.com:8443/saml?SAMLRequest=abc%3D&RelayState=x:y"
	af = mustParse(t, "AUTH_FAILED,CRV1:R:instance-1/123456:b'Ti9B':"+url).(AuthFailed)
	c := af.Challenge
	if c == nil || c.Flags != "R" || c.StateID != "instance-1/123456" || c.Text != url || !c.ResponseRequired() || c.Echo() {
		t.Fatalf("%+v", c)
	}
	if af.String() != "AUTH_FAILED,CRV1:R:instance-1/123456:b'Ti9B':"+url {
		t.Fatal(af.String())
	}
	af = mustParse(t, "AUTH_FAILED,CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:Y3Ix:Please enter token PIN").(AuthFailed)
	if af.Challenge.Username != "cr1" || !af.Challenge.Echo() || af.Challenge.Text != "Please enter token PIN" {
		t.Fatalf("%+v", af.Challenge)
	}
	for _, bad := range []string{"AUTH_FAILED,CRV1:R:state", "AUTH_FAILED,CRV1:R::u:t"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if CRV1Response("instance-1/123456", "PHNhbWw+:x") != "CRV1::instance-1/123456::PHNhbWw+:x" {
		t.Fatal("CRV1Response")
	}
	st, resp, ok := ParseCRV1Response("CRV1::instance-1/123456::PHNhbWw+:x")
	if !ok || st != "instance-1/123456" || resp != "PHNhbWw+:x" {
		t.Fatal(st, resp)
	}
	if _, _, ok := ParseCRV1Response("hunter2"); ok {
		t.Fatal("plain password parsed as CRV1")
	}
	s := SCRV1("pass:word", "123456")
	if s != "SCRV1:cGFzczp3b3Jk:MTIzNDU2" {
		t.Fatal(s)
	}
	pw, r, err := ParseSCRV1(s)
	if err != nil || pw != "pass:word" || r != "123456" {
		t.Fatal(pw, r, err)
	}
	if _, _, err := ParseSCRV1("SCRV1:!!:x"); err == nil || strings.Contains(err.Error(), "!!") {
		t.Fatalf("bad SCRV1: %v", err)
	}
}

func TestOtherMessages(t *testing.T) {
	cases := []struct {
		in   string
		want Message
	}{
		{"PUSH_REQUEST\x00", PushRequest{}},
		{"EXIT", Exit{}},
		{"AUTH_PENDING", AuthPending{}},
		{"AUTH_PENDING,timeout 300", AuthPending{Timeout: 300, Keywords: []string{"timeout 300"}}},
		{"INFO_PRE,WEB_AUTH::https://sso.example/a?b=c:d", Info{Pre: true, Kind: InfoWebAuth, URL: "https://sso.example/a?b=c:d"}},
		{"INFO_PRE,WEB_AUTH:hidden,external:https://x", Info{Pre: true, Kind: InfoWebAuth, Flags: "hidden,external", URL: "https://x"}},
		{"INFO,OPEN_URL:https://x:1/y", Info{Kind: InfoOpenURL, URL: "https://x:1/y"}},
		{"INFO_PRE,CR_TEXT:E,R:Enter code: now", Info{Pre: true, Kind: InfoCRText, Flags: "E,R", Text: "Enter code: now"}},
		{"INFO,hello", Info{Text: "hello"}},
		{"CR_RESPONSE,MTIzNA==", CRResponse{Response: "1234"}},
		{"RESTART", Restart{}},
		{"RESTART,server shutting down", Restart{Reason: "server shutting down"}},
		{"HALT,client-kill", Halt{Reason: "client-kill"}},
		{"PUSH_UPDATE,route x", Unknown{Text: "PUSH_UPDATE,route x"}},
		{"PUSH_REPLY", PushReply{}},
	}
	for _, tc := range cases {
		got := mustParse(t, tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %#v want %#v", tc.in, got, tc.want)
		}
		// Re-rendering gives the same text (modulo NUL).
		if s := got.String(); s != strings.TrimRight(tc.in, "\x00") {
			t.Errorf("%q rendered as %q", tc.in, s)
		}
	}
	if _, err := Parse("AUTH_PENDING,timeout soon"); err == nil {
		t.Fatal("bad timeout accepted")
	}
	if _, err := Parse("CR_RESPONSE,***"); err == nil {
		t.Fatal("bad base64 accepted")
	}
	if _, err := Parse("INFO,a\x00b"); err == nil {
		t.Fatal("embedded NUL accepted")
	}
	if string(Encode(PushRequest{})) != "PUSH_REQUEST\x00" {
		t.Fatal("Encode")
	}
	if (AuthPending{Timeout: 60}).String() != "AUTH_PENDING,timeout 60" {
		t.Fatal("AuthPending build")
	}
}

func TestLexing(t *testing.T) {
	got := SplitOptions(`a,echo "x, y",b\,c,d`)
	if !reflect.DeepEqual(got, []string{"a", `echo "x, y"`, `b\,c`, "d"}) {
		t.Fatalf("%q", got)
	}
	w, err := Fields(`echo "a \"q\" b" 'lit\eral' c\ d  e`)
	if err != nil || !reflect.DeepEqual(w, []string{"echo", `a "q" b`, `lit\eral`, "c d", "e"}) {
		t.Fatalf("%q %v", w, err)
	}
	if _, err := Fields(`x\`); err == nil {
		t.Fatal("lone backslash")
	}
	for _, s := range []string{"plain", "two words", `q"uote`, `back\slash`, "comma,here", ""} {
		w, err := Fields("echo " + Quote(s))
		if err != nil || len(w) != 2 || w[1] != s {
			t.Fatalf("Quote(%q) -> %q: %q %v", s, Quote(s), w, err)
		}
		if parts := SplitOptions("echo " + Quote(s) + ",next"); len(parts) != 2 {
			t.Fatalf("Quote(%q) split into %q", s, parts)
		}
	}
}

func TestPullFilters(t *testing.T) {
	rules := []PullFilter{
		{FilterAccept, "route 10."},
		{FilterIgnore, "route "},
		{FilterIgnore, "redirect-gateway"},
		{FilterReject, "dhcp-option DNS 8.8.8.8"},
	}
	kept, ignored, err := ApplyPullFilters([]string{"route 10.1.0.0 255.255.0.0", "route 192.168.0.0 255.255.0.0", "redirect-gateway def1", "ping 10"}, rules)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kept, []string{"route 10.1.0.0 255.255.0.0", "ping 10"}) || len(ignored) != 2 {
		t.Fatalf("kept %q ignored %q", kept, ignored)
	}
	_, _, err = ApplyPullFilters([]string{"ping 1", "dhcp-option DNS 8.8.8.8"}, rules)
	if err == nil || !strings.Contains(err.Error(), `"dhcp-option DNS 8.8.8.8"`) {
		t.Fatal(err)
	}
	_, _, err = ApplyPullFilters([]string{"auth-token secret123"}, []PullFilter{{FilterReject, "auth-token"}})
	if err == nil || strings.Contains(err.Error(), "secret123") {
		t.Fatalf("leak: %v", err)
	}
	if f, err := ParsePullFilter("ignore", "route"); err != nil || f.Action != FilterIgnore {
		t.Fatal(f, err)
	}
	if _, err := ParsePullFilter("drop", "x"); err == nil {
		t.Fatal("bad action accepted")
	}
}

// Pushed routes use the profile grammar: the same message for the same
// mistake, and a pushed IPv6 network with host bits set is masked (a
// server's push is not refused for it).
func TestPushedRouteGrammar(t *testing.T) {
	_, err := ParsePushOptions([]string{"route 10.0.0.0/8"})
	if err == nil || !strings.Contains(err.Error(), "route takes NETWORK NETMASK, not CIDR: write route 10.0.0.0 255.0.0.0") {
		t.Fatalf("got %v", err)
	}
	p, err := ParsePushOptions([]string{"route-ipv6 2001:db8::1/32 net_gateway 4"})
	if err != nil || len(p.RoutesIPv6) != 1 {
		t.Fatalf("%+v %v", p.RoutesIPv6, err)
	}
	if r := p.RoutesIPv6[0]; r.Dst.String() != "2001:db8::/32" || r.GatewayKind != routeopt.NetGateway || r.Metric != 4 {
		t.Fatalf("%+v", r)
	}
}
