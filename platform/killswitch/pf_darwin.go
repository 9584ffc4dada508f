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

func pfctl(stdin string, args ...string) (string, error) {
	cmd := exec.Command("/sbin/pfctl", args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("pfctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Apply loads the anchor's rules (pfctl replaces an anchor's ruleset
// atomically) and makes sure pf is enabled.
func (p *PF) Apply(r Rules) error {
	text, err := PFRules(r)
	if err != nil {
		return err
	}
	if _, err := pfctl(text, "-a", PFAnchor, "-f", "-"); err != nil {
		return err
	}
	if p.token == "" {
		out, err := pfctl("", "-E")
		if err != nil {
			return err
		}
		for _, l := range strings.Split(out, "\n") {
			if t, ok := strings.CutPrefix(strings.TrimSpace(l), "Token :"); ok {
				p.token = strings.TrimSpace(t)
			}
		}
	}
	return nil
}

// Installed reports whether the anchor holds rules.
func (p *PF) Installed() (bool, error) {
	out, err := pfctl("", "-a", PFAnchor, "-s", "rules")
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
	if _, err := pfctl("", "-a", PFAnchor, "-F", "rules"); err != nil {
		return false, err
	}
	if p.token != "" {
		if _, err := pfctl("", "-X", p.token); err != nil && p.Logger != nil {
			p.Logger.Warn("releasing pf's reference", "err", err)
		}
		p.token = ""
	}
	return had, nil
}
