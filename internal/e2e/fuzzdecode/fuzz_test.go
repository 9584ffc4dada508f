package fuzzdecode

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/km2"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// FuzzCRV1 parses dynamic-challenge strings (from AUTH_FAILED, the server)
// and challenge passwords (the server reads them from clients).
func FuzzCRV1(f *testing.F) {
	for _, s := range []string{
		"CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:Y3Ix:Please enter token PIN",
		"CRV1:R:instance-1/1234:dXNlcg==:https://idp.example.com/saml?x=1:2",
		"CRV1::::", "CRV1:E:s::", "CRV1::<state>::response", "SCRV1:cGFzcw==:MTIzNDU2", "SCRV1:!!:x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ctrlmsg.ParseCRV1(s); err == nil {
			_ = c.Echo()
			_ = c.ResponseRequired()
			c2, err := ctrlmsg.ParseCRV1(c.String())
			if err != nil {
				t.Fatalf("re-parse of %q: %v", c.String(), err)
			}
			if *c2 != *c {
				t.Fatalf("round trip changed the challenge: %+v -> %+v", c, c2)
			}
		}
		if st, resp, ok := ctrlmsg.ParseCRV1Response(s); ok {
			st2, resp2, ok2 := ctrlmsg.ParseCRV1Response(ctrlmsg.CRV1Response(st, resp))
			if !ok2 || st2 != st || resp2 != resp {
				t.Fatalf("CRV1 response round trip: (%q,%q) -> (%q,%q,%v)", st, resp, st2, resp2, ok2)
			}
		}
		if p, r, err := ctrlmsg.ParseSCRV1(s); err == nil {
			p2, r2, err := ctrlmsg.ParseSCRV1(ctrlmsg.SCRV1(p, r))
			if err != nil || p2 != p || r2 != r {
				t.Fatalf("SCRV1 round trip: (%q,%q) -> (%q,%q,%v)", p, r, p2, r2, err)
			}
		}
	})
}

// FuzzFrameReader reads a TCP byte stream as OpenVPN length-prefixed
// frames; every frame read must re-frame to the same bytes.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0, 3, 1, 2, 3, 0, 1, 9}, 0)
	f.Add([]byte{0, 0, 0, 1}, 100)
	f.Add([]byte{0xff, 0xff, 1}, 16)
	f.Add([]byte{0}, 0)
	f.Fuzz(func(t *testing.T, stream []byte, max int) {
		fr := wire.NewFrameReader(bytes.NewReader(stream), max%70000)
		var re []byte
		for range 1 << 16 {
			pkt, err := fr.ReadFrame()
			if err != nil {
				if errors.Is(err, io.EOF) && !bytes.HasPrefix(stream, re) {
					t.Fatalf("frames read so far do not re-frame to a prefix of the stream")
				}
				return
			}
			if len(pkt) > wire.MaxFrame {
				t.Fatalf("frame of %d bytes", len(pkt))
			}
			if re, err = wire.AppendFrame(re, pkt); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzPeerInfo parses a client's peer_info block and OCC options string
// (what a server reads from any client before authentication).
func FuzzPeerInfo(f *testing.F) {
	f.Add("IV_VER=2.6.14\nIV_PLAT=linux\nIV_PROTO=990\nIV_CIPHERS=AES-256-GCM:AES-128-GCM\nIV_SSO=openurl,crtext\n",
		"V4,dev-type tun,link-mtu 1549,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-client")
	f.Add("=x\nIV_PROTO=-1\r\nIV_PROTO=99999999999\n", "V,,,cipher")
	f.Fuzz(func(t *testing.T, pi, occ string) {
		m := km2.ParsePeerInfo(pi)
		_ = m.Proto()
		ciphers := m.Ciphers()
		_ = m.SSO()
		m2 := km2.ParsePeerInfo(m.String())
		for k, v := range m {
			if m2[k] != v {
				t.Fatalf("peer_info round trip lost %q=%q (got %q)", k, v, m2[k])
			}
		}
		if c, ok := km2.NegotiateCipher([]string{"AES-256-GCM", "CHACHA20-POLY1305"}, ciphers); ok &&
			!slices.ContainsFunc(ciphers, func(x string) bool { return strings.EqualFold(x, c) }) {
			t.Fatalf("negotiated %q, which the client did not offer (%v)", c, ciphers)
		}
		_ = km2.ParseOCC(occ)
	})
}

// FuzzCompressionUnframe strips the compression framing from decrypted
// data channel payloads, for every framing mode.
func FuzzCompressionUnframe(f *testing.F) {
	f.Add([]byte{0xfa, 1, 2})
	f.Add([]byte{0xfb, 2, 1})
	f.Add([]byte{0x50, 0x00, 0x50})
	f.Add([]byte{0x45, 0, 0, 20})
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, c := range []datachannel.Compression{datachannel.CompressNone, datachannel.CompressLZONo,
			datachannel.CompressStub, datachannel.CompressStubV2} {
			_, _ = c.Unframe(slices.Clone(p))
			if len(p) == 0 {
				continue
			}
			out, err := c.Unframe(c.Frame(nil, p))
			if err != nil || !bytes.Equal(out, p) {
				t.Fatalf("%v: Frame/Unframe of %x gave %x, %v", c, p, out, err)
			}
		}
	})
}

// FuzzPushOptionWords splits pushed options into words (quotes and
// escapes) and applies pull-filter rules from a profile.
func FuzzPushOptionWords(f *testing.F) {
	f.Add(`route 10.0.0.0 255.0.0.0`, "ignore", "route")
	f.Add(`echo "a \"b\" c" 'd e' f\ g`, "accept", `"echo a"`)
	f.Add(`dhcp-option DOMAIN-SEARCH "x y"`, "reject", "dhcp-option")
	f.Fuzz(func(t *testing.T, opt, action, prefix string) {
		if w, err := ctrlmsg.Fields(opt); err == nil && len(w) > 0 {
			w2, err := ctrlmsg.Fields(ctrlmsg.JoinFields(w...))
			if err != nil || !slices.Equal(w, w2) {
				t.Fatalf("Fields/JoinFields round trip: %q -> %q (%v)", w, w2, err)
			}
		}
		_ = ctrlmsg.SplitOptions(opt)
		if r, err := ctrlmsg.ParsePullFilter(action, prefix); err == nil {
			kept, ignored, err := ctrlmsg.ApplyPullFilters(ctrlmsg.SplitOptions(opt), []ctrlmsg.PullFilter{r})
			if err == nil && len(kept)+len(ignored) != len(ctrlmsg.SplitOptions(opt)) {
				t.Fatalf("pull-filter lost options: %d kept + %d ignored of %d", len(kept), len(ignored), len(ctrlmsg.SplitOptions(opt)))
			}
		}
	})
}
