package killswitch

import (
	"fmt"
	"strings"
)

// PFAnchor is the pf anchor holding the block on macOS. macOS's
// /etc/pf.conf evaluates every anchor under "com.apple/*", so the block
// works without editing the main ruleset.
const PFAnchor = "com.apple/cvpn"

// pfLoopback is the loopback interface on macOS.
const pfLoopback = "lo0"

// PFRules is the plan as pf.conf(5) rules for the anchor. pf has no socket
// marks: cvpn's own sockets are matched as root's ("user root"; pf matches
// the owner of TCP and UDP sockets), so root's DNS lookups and connections
// to the remotes' ports pass.
func PFRules(r Rules) (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	plan := r.Plan()
	var b strings.Builder
	for _, x := range plan.Rules {
		b.WriteString(pfRule(x))
		b.WriteByte('\n')
	}
	if plan.Policy == Drop {
		b.WriteString("block drop out quick all\n")
	}
	return b.String(), nil
}

func pfRule(x Rule) string {
	w := []string{"pass"}
	if x.Verdict == Drop {
		w = []string{"block", "drop"}
	}
	w = append(w, "out", "quick")
	if x.OutIface != "" {
		ifc := x.OutIface
		if ifc == Loopback {
			ifc = pfLoopback
		}
		w = append(w, "on", ifc)
	}
	switch x.Family {
	case 4:
		w = append(w, "inet")
	case 6:
		w = append(w, "inet6")
	}
	switch x.Proto {
	case ProtoUDP:
		w = append(w, "proto", "udp")
	case ProtoTCP:
		w = append(w, "proto", "tcp")
	case ProtoICMPv6:
		w = append(w, "proto", "icmp6")
	case 0:
	default:
		w = append(w, "proto", fmt.Sprint(x.Proto))
	}
	from := []string{"from", "any"}
	if x.SrcPort != 0 {
		from = append(from, "port", fmt.Sprint(x.SrcPort))
	}
	to := []string{"to", "any"}
	if x.Dst.IsValid() {
		to = []string{"to", x.Dst.String()}
	}
	if x.DstPort != 0 {
		to = append(to, "port", fmt.Sprint(x.DstPort))
	}
	if x.SrcPort != 0 || x.DstPort != 0 || x.Dst.IsValid() {
		w = append(w, from...)
		w = append(w, to...)
	} else {
		w = append(w, "all")
	}
	if x.HasICMP {
		w = append(w, "icmp6-type", fmt.Sprint(x.ICMPType))
	}
	if x.Mark != 0 {
		w = append(w, "user", "root")
	}
	if x.Verdict == Accept && (x.Proto == ProtoTCP || x.Proto == ProtoUDP || x.Proto == 0) {
		w = append(w, "keep", "state")
	}
	return strings.Join(w, " ")
}
