package km2

import (
	"testing"
)

func TestPeerInfo(t *testing.T) {
	p := PeerInfo{Version: "2.6.12", Platform: PlatformName("darwin"), Proto: ClientIVProto,
		Ciphers: []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"}, MTU: 1600,
		SSO: []string{"openurl", "webauth", "crtext"}, GUIVersion: "cvpn_1.0", Extra: []string{"UV_X=a\nb", "bad"}}
	want := "IV_VER=2.6.12\nIV_PLAT=mac\nIV_PROTO=8094\nIV_NCP=2\nIV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\nIV_MTU=1600\nIV_SSO=openurl,webauth,crtext\nIV_GUI_VER=cvpn_1.0\nUV_X=a b\n"
	if got := p.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	m := ParsePeerInfo(want)
	if m.Proto() != ClientIVProto || len(m.Ciphers()) != 3 || m["IV_PLAT"] != "mac" || len(m.SSO()) != 3 {
		t.Fatalf("%v", m)
	}
	if ParsePeerInfo("IV_PROTO=x").Proto() != 0 || ParsePeerInfo("").Ciphers() != nil {
		t.Fatal("malformed")
	}
	if PlatformName("windows") != "win" || PlatformName("linux") != "linux" {
		t.Fatal("PlatformName")
	}
}

func TestIVProtoBits(t *testing.T) {
	// Bit positions from OpenVPN 2.6 ssl.h.
	for v, want := range map[int]int{IVProtoDataV2: 2, IVProtoRequestPush: 4, IVProtoTLSKeyExport: 8, IVProtoAuthPendingKW: 16,
		IVProtoNCPP2P: 32, IVProtoDNSOption: 64, IVProtoCCExitNotify: 128, IVProtoAuthFailTemp: 256, IVProtoDynTLSCrypt: 512} {
		if v != want {
			t.Fatalf("%d != %d", v, want)
		}
	}
}

func TestNegotiateCipher(t *testing.T) {
	c, ok := NegotiateCipher([]string{"AES-256-GCM", "AES-128-GCM"}, []string{"aes-128-gcm", "AES-256-GCM"})
	if !ok || c != "AES-256-GCM" {
		t.Fatal(c)
	}
	if _, ok := NegotiateCipher([]string{"AES-256-GCM"}, []string{"BF-CBC"}); ok {
		t.Fatal("matched")
	}
}

func TestOCC(t *testing.T) {
	cases := []struct {
		o    OCC
		want string
	}{
		{OCC{Cipher: "AES-256-GCM", KeyBits: 256},
			"V4,dev-type tun,link-mtu 1549,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-client"},
		{OCC{Server: true, TCP: true, Cipher: "AES-256-CBC", Auth: "SHA1", KeyBits: 256, CompLZO: true},
			"V4,dev-type tun,link-mtu 1558,tun-mtu 1500,proto TCPv4_SERVER,comp-lzo,cipher AES-256-CBC,auth SHA1,keysize 256,key-method 2,tls-server"},
		{OCC{Cipher: "AES-256-CBC", Auth: "SHA256", KeyBits: 256},
			"V4,dev-type tun,link-mtu 1569,tun-mtu 1500,proto UDPv4,cipher AES-256-CBC,auth SHA256,keysize 256,key-method 2,tls-client"},
	}
	for _, tc := range cases {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
	m := ParseOCC(cases[0].want)
	if m["V"] != "4" || m["cipher"] != "AES-256-GCM" || m["tun-mtu"] != "1500" {
		t.Fatal(m)
	}
	if _, ok := m["tls-client"]; !ok {
		t.Fatal("tls-client missing")
	}
}
