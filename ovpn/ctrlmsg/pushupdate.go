package ctrlmsg

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// PUSH_UPDATE (OpenVPN 2.7, IV_PROTO bit 12): the server changes options of
// a live session. "PUSH_UPDATE,opt,opt,..." with "push-continuation 2" as
// the last option of every message but the last of a split update, which
// ends with "push-continuation 1" (an update in one message has none). An
// option "-name" removes every value of the option (no arguments), "?opt"
// marks it optional (a client that cannot apply it ignores it); "-?name"
// combines both ("?-name" is invalid). A client replaces every previous
// value of each option it receives.

// PushUpdatePrefix starts a PUSH_UPDATE message.
const PushUpdatePrefix = "PUSH_UPDATE"

// updatable are the options a PUSH_UPDATE may change (OpenVPN 2.7
// management-notes, push-update-broad).
var updatable = map[string]bool{
	"block-ipv6": true, "block-outside-dns": true, "dhcp-option": true, "dns": true,
	"ifconfig": true, "ifconfig-ipv6": true, "redirect-gateway": true, "redirect-private": true,
	"route": true, "route-gateway": true, "route-ipv6": true, "route-metric": true,
	"topology": true, "tun-mtu": true, "keepalive": true,
}

// Updatable reports whether PUSH_UPDATE may change option name.
func Updatable(name string) bool { return updatable[name] }

// UpdateOption is one option of a PUSH_UPDATE.
type UpdateOption struct {
	Name     string
	Args     string // the rest of the option, "" for a removal
	Remove   bool   // "-name": remove every value
	Optional bool   // "?": may be ignored by a client that cannot apply it
}

// String writes the option as it goes on the wire.
func (o UpdateOption) String() string {
	var b strings.Builder
	if o.Remove {
		b.WriteByte('-')
	}
	if o.Optional {
		b.WriteByte('?')
	}
	b.WriteString(o.Name)
	if o.Args != "" {
		b.WriteByte(' ')
		b.WriteString(o.Args)
	}
	return b.String()
}

// ParseUpdateOption reads one option of a PUSH_UPDATE and checks that it
// may be updated; a non-updatable optional option is returned without
// error (the receiver ignores it).
func ParseUpdateOption(s string) (UpdateOption, error) {
	s = strings.TrimSpace(s)
	var o UpdateOption
	rest := s
	if strings.HasPrefix(rest, "-") {
		o.Remove, rest = true, rest[1:]
	}
	if strings.HasPrefix(rest, "?") {
		o.Optional, rest = true, rest[1:]
	}
	if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "?") {
		return o, fmt.Errorf("push-update option %q: the prefixes are \"-\", \"?\" or \"-?\" in that order", s)
	}
	o.Name, o.Args, _ = strings.Cut(rest, " ")
	o.Args = strings.TrimSpace(o.Args)
	switch {
	case o.Name == "":
		return o, fmt.Errorf("push-update option %q has no name", s)
	case strings.ContainsAny(s, ",\x00\n\r"):
		return o, fmt.Errorf("push-update option %q contains a comma or a line break", s)
	case o.Remove && o.Args != "":
		return o, fmt.Errorf("push-update option %q: a removal (\"-%s\") takes no arguments", s, o.Name)
	case !o.Remove && o.Args == "" && o.Name != "block-ipv6" && o.Name != "block-outside-dns" && o.Name != "redirect-gateway":
		return o, fmt.Errorf("push-update option %q needs arguments (or \"-%s\" to remove it)", s, o.Name)
	case !updatable[o.Name] && !o.Optional:
		return o, fmt.Errorf("push-update option %q: %s cannot be changed on a live session (updatable: block-ipv6, block-outside-dns, dhcp-option, dns, ifconfig, ifconfig-ipv6, redirect-gateway, redirect-private, route, route-gateway, route-ipv6, route-metric, topology, tun-mtu, keepalive)", s, o.Name)
	}
	return o, nil
}

// BuildPushUpdates checks options and packs them into PUSH_UPDATE messages
// of at most max bytes, marking continuations as OpenVPN does.
func BuildPushUpdates(options []string, max int) ([]string, error) {
	if len(options) == 0 {
		return nil, fmt.Errorf("push-update: no options")
	}
	norm := make([]string, len(options))
	for i, s := range options {
		o, err := ParseUpdateOption(s)
		if err != nil {
			return nil, err
		}
		norm[i] = o.String()
	}
	const cont = ",push-continuation 2"
	var msgs []string
	cur := PushUpdatePrefix
	for _, o := range norm {
		if len(PushUpdatePrefix)+1+len(o)+len(cont) > max {
			return nil, fmt.Errorf("push-update option %q is too long for one message (%d bytes)", o, max)
		}
		if cur != PushUpdatePrefix && len(cur)+1+len(o)+len(cont) > max {
			msgs = append(msgs, cur+cont)
			cur = PushUpdatePrefix
		}
		cur += "," + o
	}
	if len(msgs) > 0 {
		cur += ",push-continuation 1"
	}
	return append(msgs, cur), nil
}

// PushUpdate is one received PUSH_UPDATE message.
type PushUpdate struct {
	Options []UpdateOption
	// More is true when further messages of the same update follow
	// (push-continuation 2).
	More bool
}

// ParsePushUpdate reads a PUSH_UPDATE message; ok is false when raw is not
// one.
func ParsePushUpdate(raw string) (pu PushUpdate, ok bool, err error) {
	raw = strings.TrimRight(raw, "\x00")
	rest, found := strings.CutPrefix(raw, PushUpdatePrefix)
	if !found || (rest != "" && rest[0] != ',') {
		return pu, false, nil
	}
	for _, s := range strings.Split(strings.TrimPrefix(rest, ","), ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if c, isCont := strings.CutPrefix(s, "push-continuation "); isCont {
			pu.More = strings.TrimSpace(c) == "2"
			continue
		}
		o, err := ParseUpdateOption(s)
		if err != nil {
			return pu, true, err
		}
		pu.Options = append(pu.Options, o)
	}
	return pu, true, nil
}

// Updated returns a copy of p with a PUSH_UPDATE applied: every option
// named in opts loses all its earlier values; the new values of those not
// removed ("-name") are applied in order. Unknown options and
// redirect-private (which cvpn does not act on) go to the copy's Ignored,
// which holds only this update's. The copy is checked like a PUSH_REPLY;
// on error it holds what was valid.
func (p *PushOptions) Updated(opts []UpdateOption) (*PushOptions, error) {
	n := *p
	n.Ignored = nil
	if p.RedirectGateway != nil {
		rg := *p.RedirectGateway // redirect-private amends it in place
		n.RedirectGateway = &rg
	}
	reset := map[string]bool{}
	for _, o := range opts {
		if !reset[o.Name] {
			reset[o.Name] = true
			n.clearOption(o.Name)
		}
	}
	var errs []error
	for _, o := range opts {
		if o.Remove {
			continue
		}
		if err := n.apply(strings.TrimSpace(o.Name + " " + o.Args)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.checkIfConfig(); err != nil {
		errs = append(errs, err)
	}
	if n.DNSOption != nil {
		if err := n.DNSOption.Validate(); err != nil {
			errs = append(errs, &OptionError{Option: "dns", Err: err.Error()})
		}
	}
	return &n, errors.Join(errs...)
}

// clearOption forgets every value of the updatable option name.
func (p *PushOptions) clearOption(name string) {
	switch name {
	case "ifconfig":
		p.IfConfig = nil
	case "ifconfig-ipv6":
		p.IfConfigIPv6 = nil
	case "topology":
		p.Topology = ""
	case "route":
		p.Routes = nil
	case "route-ipv6":
		p.RoutesIPv6 = nil
	case "route-gateway":
		p.RouteGateway, p.RouteGatewayDHCP = netip.Addr{}, false
	case "redirect-gateway":
		p.RedirectGateway = nil
	case "dhcp-option":
		p.DNS, p.Domain, p.DomainSearch, p.DomainRoute, p.AdapterDomainSuffix, p.DHCPOther = nil, "", nil, nil, "", nil
	case "dns":
		p.DNSOption = nil
	case "tun-mtu":
		p.TunMTU = 0
	case "keepalive":
		p.Ping, p.PingRestart = -1, -1
	case "block-ipv6":
		p.BlockIPv6 = false
	case "block-outside-dns":
		p.BlockOutsideDNS = false
	case "route-metric":
		p.RouteMetric = 0
	}
}
