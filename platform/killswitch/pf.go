package killswitch

import (
	"bytes"
	"fmt"
	"log/slog"
	"os/exec"
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

// PFRunner runs pfctl with args (stdin for -f -) and returns what it
// printed on standard output and on standard error apart: pfctl warns on
// standard error ("No ALTQ support in kernel") even when it succeeds,
// which must not read as rules. Tests pass a fake.
type PFRunner func(stdin string, args ...string) (stdout, stderr string, err error)

// PF is the macOS backend: the rules of PFRules in the anchor PFAnchor,
// loaded and flushed with pfctl(8). pf is enabled with a reference
// (pfctl -E prints a token; pfctl -X TOKEN releases it, and pf returns to
// disabled only when nobody else holds one). Hold records the token in
// the block's record, so that the reference of a crashed holder is
// released by whoever restores or lifts its block (EnableRef).
type PF struct {
	Logger *slog.Logger
	// Run runs pfctl; nil for /sbin/pfctl.
	Run   PFRunner
	token string
}

var _ EnableRef = (*PF)(nil)

func (p *PF) String() string { return "pf anchor " + PFAnchor }

func (p *PF) pfctl(stdin string, args ...string) (string, string, error) {
	if p.Run != nil {
		return p.Run(stdin, args...)
	}
	return runPfctl(stdin, args...)
}

// runPfctl runs /sbin/pfctl (a PFRunner).
func runPfctl(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command("/sbin/pfctl", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), errb.String(), fmt.Errorf("pfctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()+"\n"+out.String()))
	}
	return out.String(), errb.String(), nil
}

// Apply loads the anchor's rules (pfctl replaces an anchor's ruleset
// atomically) and makes sure pf is enabled, taking a reference once.
func (p *PF) Apply(r Rules) error {
	text, err := PFRules(r)
	if err != nil {
		return err
	}
	if _, _, err := p.pfctl(text, "-a", PFAnchor, "-f", "-"); err != nil {
		return err
	}
	if p.token == "" {
		out, errOut, err := p.pfctl("", "-E")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(out+"\n"+errOut, "\n") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(l), "Token :"); ok {
				p.token = strings.TrimSpace(t)
			}
		}
		if p.token == "" && p.Logger != nil {
			p.Logger.Warn("pfctl -E printed no token: pf stays enabled after the block is removed", "output", strings.TrimSpace(out+" "+errOut))
		}
	}
	return nil
}

// Installed reports whether the anchor holds rules.
func (p *PF) Installed() (bool, error) {
	out, _, err := p.pfctl("", "-a", PFAnchor, "-s", "rules")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) != "", nil
}

// Remove flushes the anchor and releases the reference Apply took.
func (p *PF) Remove() (bool, error) {
	had, err := p.Installed()
	if err != nil {
		return false, err
	}
	if _, _, err := p.pfctl("", "-a", PFAnchor, "-F", "rules"); err != nil {
		return false, err
	}
	if p.token != "" {
		_ = p.Release(p.token) // logged
	}
	return had, nil
}

// EnableToken is pf's enable reference this backend holds ("" for none).
func (p *PF) EnableToken() string { return p.token }

// Release releases pf's enable reference token (pfctl -X), one this
// backend or a crashed holder took. pf refuses a token it does not know
// (gone with a reboot); that is logged and returned, and does no harm.
func (p *PF) Release(token string) error {
	if token == "" {
		return nil
	}
	if token == p.token {
		p.token = ""
	}
	_, _, err := p.pfctl("", "-X", token)
	if err != nil && p.Logger != nil {
		p.Logger.Warn("releasing pf's enable reference", "token", token, "err", err)
	}
	return err
}
