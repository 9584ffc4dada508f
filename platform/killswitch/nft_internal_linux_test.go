package killswitch

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TestNFTExprs checks the translation of plan rules into nftables
// expressions without a kernel: what `nft list` would show as
// "ip daddr 10.20.0.0/16 drop" and "meta mark 0x6376706e udp dport 53 accept".
func TestNFTExprs(t *testing.T) {
	ex := nftExprs(Rule{Family: 4, Dst: netip.MustParsePrefix("10.20.0.0/16"), Verdict: Drop})
	var mask, addr []byte
	var verdict expr.VerdictKind = -100
	for _, e := range ex {
		switch x := e.(type) {
		case *expr.Bitwise:
			mask = x.Mask
		case *expr.Cmp:
			addr = x.Data
		case *expr.Payload:
			if x.Base != expr.PayloadBaseNetworkHeader || x.Offset != 16 || x.Len != 4 {
				t.Errorf("payload %+v, want the IPv4 destination (offset 16, 4 bytes)", x)
			}
		case *expr.Verdict:
			verdict = x.Kind
		}
	}
	if !bytes.Equal(mask, []byte{255, 255, 0, 0}) || !bytes.Equal(addr, []byte{10, 20, 0, 0}) || verdict != expr.VerdictDrop {
		t.Errorf("10.20.0.0/16 drop: mask %v addr %v verdict %v", mask, addr, verdict)
	}

	ex = nftExprs(Rule{Mark: DefaultMark, Proto: ProtoUDP, DstPort: 53, Verdict: Accept})
	var sawMark, sawProto, sawPort bool
	for i, e := range ex {
		m, ok := e.(*expr.Meta)
		if ok && i+1 < len(ex) {
			c := ex[i+1].(*expr.Cmp)
			switch m.Key {
			case expr.MetaKeyMARK:
				sawMark = bytes.Equal(c.Data, binaryutil.NativeEndian.PutUint32(DefaultMark))
			case expr.MetaKeyL4PROTO:
				sawProto = bytes.Equal(c.Data, []byte{unix.IPPROTO_UDP})
			}
		}
		if p, ok := e.(*expr.Payload); ok && p.Base == expr.PayloadBaseTransportHeader && p.Offset == 2 {
			sawPort = bytes.Equal(ex[i+1].(*expr.Cmp).Data, []byte{0, 53})
		}
	}
	if !sawMark || !sawProto || !sawPort {
		t.Errorf("marked DNS rule: mark %v proto %v port %v in %#v", sawMark, sawProto, sawPort, ex)
	}
	if v, ok := ex[len(ex)-1].(*expr.Verdict); !ok || v.Kind != expr.VerdictAccept {
		t.Errorf("last expression %#v, want accept", ex[len(ex)-1])
	}

	ex = nftExprs(Rule{OutIface: "cvpn0", Verdict: Accept})
	if c := ex[1].(*expr.Cmp); len(c.Data) != unix.IFNAMSIZ || string(c.Data[:6]) != "cvpn0\x00" {
		t.Errorf("interface match %q, want the NUL-padded name", c.Data)
	}
}
