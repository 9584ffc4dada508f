package nstest

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// NetNSFd opens the network namespace ns (from /run/netns) for code that
// takes a namespace file descriptor; close it with unix.Close.
func NetNSFd(ns string) (int, error) {
	fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("nstest: open namespace %s: %w", ns, err)
	}
	return fd, nil
}

// NFTRuleset lists the whole nftables ruleset of namespace ns through
// netlink (the nftables library, no nft binary): every table, chain and
// rule with its expressions, one per line, so that two listings can be
// compared byte for byte.
func NFTRuleset(ns string) (string, error) {
	fd, err := NetNSFd(ns)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return "", fmt.Errorf("nstest: nftables: %w", err)
	}
	var b strings.Builder
	tables, err := c.ListTables()
	if err != nil {
		return "", fmt.Errorf("nstest: list tables in %s: %w", ns, err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return "", fmt.Errorf("nstest: list chains in %s: %w", ns, err)
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "table family=%d name=%s flags=%d\n", t.Family, t.Name, t.Flags)
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			fmt.Fprintf(&b, "  chain %s type=%s", ch.Name, ch.Type)
			if ch.Hooknum != nil {
				fmt.Fprintf(&b, " hook=%d", *ch.Hooknum)
			}
			if ch.Priority != nil {
				fmt.Fprintf(&b, " prio=%d", *ch.Priority)
			}
			if ch.Policy != nil {
				fmt.Fprintf(&b, " policy=%d", *ch.Policy)
			}
			b.WriteByte('\n')
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return "", fmt.Errorf("nstest: list rules of %s/%s in %s: %w", t.Name, ch.Name, ns, err)
			}
			for _, r := range rules {
				fmt.Fprintf(&b, "    rule handle=%d udata=%x", r.Handle, r.UserData)
				for _, e := range r.Exprs {
					fmt.Fprintf(&b, " %T%+v", e, e)
				}
				b.WriteByte('\n')
			}
		}
	}
	return b.String(), nil
}
