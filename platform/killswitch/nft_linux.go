package killswitch

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// NFTTable is cvpn's own nftables table (family inet); the block is its
// output chain (the machine's own packets) and its forward chain (packets
// it routes for containers and virtual machines). Nothing else of the
// ruleset is ever touched.
const NFTTable = "cvpn"

const (
	nftChain        = "block-output"
	nftForwardChain = "block-forward"
)

// NFT is the Linux backend: one nftables table, changed through netlink.
type NFT struct {
	// NetNSFd, when not 0, is the network namespace to work in (tests).
	NetNSFd int
	Logger  *slog.Logger
}

// Open returns the backend of the running OS.
func Open(logger *slog.Logger) (Firewall, error) {
	return &NFT{Logger: logger}, nil
}

func (n *NFT) String() string { return "nftables table inet " + NFTTable }

func (n *NFT) conn() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if n.NetNSFd != 0 {
		opts = append(opts, nftables.WithNetNSFd(n.NetNSFd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

func nftTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: NFTTable}
}

// Apply replaces the table in one netlink transaction: add (so that the
// delete cannot fail), delete, add with the new chain and rules.
func (n *NFT) Apply(r Rules) error {
	if err := r.Validate(); err != nil {
		return err
	}
	c, err := n.conn()
	if err != nil {
		return err
	}
	t := nftTable()
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	addChain(c, t, nftChain, nftables.ChainHookOutput, r.Plan())
	addChain(c, t, nftForwardChain, nftables.ChainHookForward, r.ForwardPlan())
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: install table inet %s: %w", NFTTable, err)
	}
	return nil
}

// addChain adds a base chain of t on hook with plan's policy and rules.
func addChain(c *nftables.Conn, t *nftables.Table, name string, hook *nftables.ChainHook, plan Plan) {
	policy := nftables.ChainPolicyAccept
	if plan.Policy == Drop {
		policy = nftables.ChainPolicyDrop
	}
	ch := c.AddChain(&nftables.Chain{
		Name: name, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &policy,
	})
	for _, rule := range plan.Rules {
		c.AddRule(&nftables.Rule{
			Table: t, Chain: ch, Exprs: nftExprs(rule),
			UserData: userdata.AppendString(nil, userdata.TypeComment, "cvpn: "+rule.Comment),
		})
	}
}

// Installed reports whether the table exists.
func (n *NFT) Installed() (bool, error) {
	c, err := n.conn()
	if err != nil {
		return false, err
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("nftables: list tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == NFTTable {
			return true, nil
		}
	}
	return false, nil
}

// Remove deletes the table when it exists.
func (n *NFT) Remove() (bool, error) {
	ok, err := n.Installed()
	if err != nil || !ok {
		return false, err
	}
	c, err := n.conn()
	if err != nil {
		return false, err
	}
	c.DelTable(nftTable())
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("nftables: delete table inet %s: %w", NFTTable, err)
	}
	return true, nil
}

// ifname is an interface name as the kernel compares it (IFNAMSIZ, NUL padded).
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func cmpEq(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }

// nftExprs translates one plan rule into nftables expressions.
func nftExprs(r Rule) []expr.Any {
	var ex []expr.Any
	if r.OutIface != "" {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, cmpEq(ifname(r.OutIface)))
	}
	if r.InIface != "" {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, cmpEq(ifname(r.InIface)))
	}
	if r.Mark != 0 {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyMARK, Register: 1}, cmpEq(binaryutil.NativeEndian.PutUint32(r.Mark)))
	}
	switch r.Family {
	case 4:
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV4}))
	case 6:
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV6}))
	}
	prefix := func(p netip.Prefix, off4, off6 uint32) {
		a := p.Addr()
		off, n := off4, uint32(4)
		if a.Is6() {
			off, n = off6, 16
		}
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
		if p.Bits() < a.BitLen() {
			mask := make([]byte, n)
			for i := 0; i < p.Bits(); i++ {
				mask[i/8] |= 0x80 >> (i % 8)
			}
			ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
		}
		ex = append(ex, cmpEq(a.AsSlice()))
	}
	if r.Dst.IsValid() {
		prefix(r.Dst, 16, 24)
	}
	if r.Src.IsValid() {
		prefix(r.Src, 12, 8)
	}
	if r.Proto != 0 {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq([]byte{r.Proto}))
	}
	port := func(off uint32, p uint16) {
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
			cmpEq(binary.BigEndian.AppendUint16(nil, p)))
	}
	if r.SrcPort != 0 {
		port(0, r.SrcPort)
	}
	if r.DstPort != 0 {
		port(2, r.DstPort)
	}
	if r.HasICMP {
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}, cmpEq([]byte{r.ICMPType}))
	}
	v := expr.VerdictAccept
	if r.Verdict == Drop {
		v = expr.VerdictDrop
	}
	return append(ex, &expr.Counter{}, &expr.Verdict{Kind: v})
}
