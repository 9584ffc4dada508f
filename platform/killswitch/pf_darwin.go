package killswitch

import (
	"bytes"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
)

// PF is the macOS backend: the rules of PFRules in the anchor PFAnchor,
// loaded and flushed with pfctl(8). pf is enabled with a reference
// (pfctl -E); the token is released (pfctl -X) when the block is removed
// by the process that enabled it.
type PF struct {
	Logger *slog.Logger
	token  string
}

// Open returns the backend of the running OS.
func Open(logger *slog.Logger) (Firewall, error) { return &PF{Logger: logger}, nil }

func (p *PF) String() string { return "pf anchor " + PFAnchor }

// pfctl runs pfctl and returns what it printed on standard output and on
// standard error apart: pfctl warns on standard error ("No ALTQ support in
// kernel") even when it succeeds, which must not read as rules.
func pfctl(stdin string, args ...string) (stdout, stderr string, err error) {
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
// atomically) and makes sure pf is enabled.
func (p *PF) Apply(r Rules) error {
	text, err := PFRules(r)
	if err != nil {
		return err
	}
	if _, _, err := pfctl(text, "-a", PFAnchor, "-f", "-"); err != nil {
		return err
	}
	if p.token == "" {
		out, errOut, err := pfctl("", "-E")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(out+"\n"+errOut, "\n") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(l), "Token :"); ok {
				p.token = strings.TrimSpace(t)
			}
		}
	}
	return nil
}

// Installed reports whether the anchor holds rules.
func (p *PF) Installed() (bool, error) {
	out, _, err := pfctl("", "-a", PFAnchor, "-s", "rules")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) != "", nil
}

// Remove flushes the anchor and releases pf's reference.
func (p *PF) Remove() (bool, error) {
	had, err := p.Installed()
	if err != nil {
		return false, err
	}
	if _, _, err := pfctl("", "-a", PFAnchor, "-F", "rules"); err != nil {
		return false, err
	}
	if p.token != "" {
		if _, _, err := pfctl("", "-X", p.token); err != nil && p.Logger != nil {
			p.Logger.Warn("releasing pf's reference", "err", err)
		}
		p.token = ""
	}
	return had, nil
}
