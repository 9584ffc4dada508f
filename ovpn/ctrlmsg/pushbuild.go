package ctrlmsg

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cvpn/cvpn/ovpn/routeopt"
)

// PushAccumulator merges a PUSH_REPLY split with push-continuation.
type PushAccumulator struct {
	options []string
	parts   int
	done    bool
}

// MaxPushParts bounds how many continuation parts are accepted.
const MaxPushParts = 64

// Add adds one part and reports whether the reply is complete (a part
// without push-continuation or with "push-continuation 1").
func (a *PushAccumulator) Add(r PushReply) (bool, error) {
	if a.done {
		// A new reply (for example after a re-push) starts over.
		*a = PushAccumulator{}
	}
	a.parts++
	if a.parts > MaxPushParts {
		return false, fmt.Errorf("PUSH_REPLY split into more than %d parts", MaxPushParts)
	}
	a.options = append(a.options, r.Options...)
	a.done = r.Continuation != 2
	return a.done, nil
}

// Done reports whether the last part has arrived.
func (a *PushAccumulator) Done() bool { return a.done }

// Options returns the merged options so far.
func (a *PushAccumulator) Options() []string { return a.options }

// Reset forgets all parts.
func (a *PushAccumulator) Reset() { *a = PushAccumulator{} }

func maskString(bits int) string {
	m := ^uint32(0) << (32 - bits)
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

func gatewayArgs(r Route) []string {
	var a []string
	switch {
	case r.GatewayKind == routeopt.ExplicitGateway:
		a = append(a, r.Gateway.String())
	case r.GatewayKind != routeopt.VPNGateway:
		a = append(a, r.GatewayKind.String())
	case r.HasMetric:
		a = append(a, "default")
	}
	if r.HasMetric {
		a = append(a, strconv.Itoa(r.Metric))
	}
	return a
}

// Options renders p as option strings in a stable order (what a server
// pushes). Ignored options are not rendered.
func (p *PushOptions) Options() []string {
	var o []string
	add := func(words ...string) { o = append(o, JoinFields(words...)) }
	if p.RedirectGateway != nil {
		rg := p.RedirectGateway
		w := []string{"redirect-gateway"}
		for _, f := range []struct {
			on   bool
			name string
		}{{rg.Def1, "def1"}, {rg.Local, "local"}, {rg.AutoLocal, "autolocal"}, {rg.BypassDHCP, "bypass-dhcp"},
			{rg.BypassDNS, "bypass-dns"}, {rg.BlockLocal, "block-local"}, {rg.IPv6, "ipv6"}, {rg.NoIPv4, "!ipv4"}} {
			if f.on {
				w = append(w, f.name)
			}
		}
		add(w...)
	}
	for _, d := range p.DNS {
		if d.Is6() && !d.Is4In6() {
			add("dhcp-option", "DNS6", d.String())
		} else {
			add("dhcp-option", "DNS", d.String())
		}
	}
	if p.Domain != "" {
		add("dhcp-option", "DOMAIN", p.Domain)
	}
	for _, d := range p.DomainSearch {
		add("dhcp-option", "DOMAIN-SEARCH", d)
	}
	for _, d := range p.DomainRoute {
		add("dhcp-option", "DOMAIN-ROUTE", d)
	}
	if p.AdapterDomainSuffix != "" {
		add("dhcp-option", "ADAPTER_DOMAIN_SUFFIX", p.AdapterDomainSuffix)
	}
	o = append(o, p.DHCPOther...)
	if p.DNSOption != nil {
		o = append(o, p.DNSOption.Lines()...)
	}
	if p.BlockIPv6 {
		add("block-ipv6")
	}
	if p.BlockOutsideDNS {
		add("block-outside-dns")
	}
	if p.RouteMetric > 0 {
		add("route-metric", strconv.Itoa(p.RouteMetric))
	}
	for _, r := range p.Routes {
		add(append([]string{"route", r.Dst.Addr().String(), maskString(r.Dst.Bits())}, gatewayArgs(r)...)...)
	}
	for _, r := range p.RoutesIPv6 {
		add(append([]string{"route-ipv6", r.Dst.String()}, gatewayArgs(r)...)...)
	}
	if p.RouteGatewayDHCP {
		add("route-gateway", "dhcp")
	} else if p.RouteGateway.IsValid() {
		add("route-gateway", p.RouteGateway.String())
	}
	if p.Topology != "" {
		add("topology", p.Topology)
	}
	if p.Ping >= 0 {
		add("ping", strconv.Itoa(p.Ping))
	}
	if p.PingRestart >= 0 {
		add("ping-restart", strconv.Itoa(p.PingRestart))
	}
	if p.Inactive != nil {
		if p.Inactive.Bytes > 0 {
			add("inactive", strconv.Itoa(p.Inactive.Seconds), strconv.FormatInt(p.Inactive.Bytes, 10))
		} else {
			add("inactive", strconv.Itoa(p.Inactive.Seconds))
		}
	}
	if p.ExplicitExitNotify >= 0 {
		add("explicit-exit-notify", strconv.Itoa(p.ExplicitExitNotify))
	}
	if p.IfConfigIPv6 != nil {
		if p.IfConfigIPv6.Remote.IsValid() {
			add("ifconfig-ipv6", p.IfConfigIPv6.Local.String(), p.IfConfigIPv6.Remote.String())
		} else {
			add("ifconfig-ipv6", p.IfConfigIPv6.Local.String())
		}
	}
	if p.IfConfig != nil {
		add("ifconfig", p.IfConfig.Local.String(), p.IfConfig.Second.String())
	}
	if p.TunMTU > 0 {
		add("tun-mtu", strconv.Itoa(p.TunMTU))
	}
	if p.PeerID >= 0 {
		add("peer-id", strconv.Itoa(p.PeerID))
	}
	if p.Cipher != "" {
		add("cipher", p.Cipher)
	}
	var pf []string
	if p.ProtocolFlags.CCExit {
		pf = append(pf, "cc-exit")
	}
	if p.ProtocolFlags.TLSEKM {
		pf = append(pf, "tls-ekm")
	}
	if p.ProtocolFlags.DynTLSCrypt {
		pf = append(pf, "dyn-tls-crypt")
	}
	if p.ProtocolFlags.AEADEpoch {
		pf = append(pf, "aead-epoch")
	}
	if p.KeyDerivationEKM {
		add("key-derivation", "tls-ekm")
	}
	if len(pf) > 0 {
		add(append([]string{"protocol-flags"}, pf...)...)
	}
	if p.AuthTokenUser != "" {
		add("auth-token-user", base64.StdEncoding.EncodeToString([]byte(p.AuthTokenUser)))
	}
	if p.AuthToken != "" {
		add("auth-token", p.AuthToken)
	}
	for _, e := range p.Echo {
		add("echo", e)
	}
	return o
}

// DefaultMaxPushReply is the size of one PUSH_REPLY message OpenVPN
// peers accept comfortably (PUSH_BUNDLE_SIZE is 1024).
const DefaultMaxPushReply = 1024

const contSuffix = ",push-continuation 2" // same length as ",push-continuation 1"

// BuildPushReplies packs options into PUSH_REPLY messages of at most max
// bytes each (0 = DefaultMaxPushReply), adding push-continuation markers
// when more than one message is needed.
func BuildPushReplies(options []string, max int) ([]string, error) {
	if max <= 0 {
		max = DefaultMaxPushReply
	}
	room := max - len("PUSH_REPLY") - len(contSuffix)
	if room <= 0 {
		return nil, errors.New("push reply size limit too small")
	}
	var parts [][]string
	var cur []string
	size := 0
	for _, o := range options {
		if strings.IndexByte(o, 0) >= 0 {
			return nil, fmt.Errorf("pushed option %q contains a NUL byte", o)
		}
		if 1+len(o) > room {
			return nil, fmt.Errorf("pushed option of %d bytes does not fit a %d-byte PUSH_REPLY: %.40q", len(o), max, o)
		}
		if size+1+len(o) > room {
			parts = append(parts, cur)
			cur, size = nil, 0
		}
		cur = append(cur, o)
		size += 1 + len(o)
	}
	parts = append(parts, cur)
	msgs := make([]string, len(parts))
	for i, p := range parts {
		r := PushReply{Options: p}
		if len(parts) > 1 {
			r.Continuation = 2
			if i == len(parts)-1 {
				r.Continuation = 1
			}
		}
		msgs[i] = r.String()
	}
	return msgs, nil
}
