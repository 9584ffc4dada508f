package nstest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ErrNetemUnsupported is returned by SetNetem when the kernel has no netem
// qdisc (CONFIG_NET_SCH_NETEM unset; some VM kernels, including this
// project's Firecracker machines, lack it and cannot load modules).
var ErrNetemUnsupported = errors.New("kernel has no netem qdisc (CONFIG_NET_SCH_NETEM)")

// Netem describes a tc netem discipline. Zero fields are left out.
type Netem struct {
	Delay       time.Duration // added one-way delay
	Jitter      time.Duration // +/- variation of Delay (needs Delay)
	LossPercent float64       // random loss, 0..100
	Duplicate   float64       // percent of duplicated packets
	Reorder     float64       // percent sent at once, out of order (needs Delay)
	RateKbit    int           // bandwidth limit in kbit/s
}

// Args renders the netem parameters for `tc qdisc ... netem`.
func (n Netem) Args() []string {
	var a []string
	if n.Delay > 0 {
		a = append(a, "delay", ms(n.Delay))
		if n.Jitter > 0 {
			a = append(a, ms(n.Jitter))
		}
	}
	if n.LossPercent > 0 {
		a = append(a, "loss", pct(n.LossPercent))
	}
	if n.Duplicate > 0 {
		a = append(a, "duplicate", pct(n.Duplicate))
	}
	if n.Reorder > 0 {
		a = append(a, "reorder", pct(n.Reorder))
	}
	if n.RateKbit > 0 {
		a = append(a, "rate", strconv.Itoa(n.RateKbit)+"kbit")
	}
	return a
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

func pct(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

// SetNetem installs (or replaces) netem as the root qdisc of dev in ns.
// It applies to packets leaving dev; apply it on both ends for symmetric
// impairment.
func SetNetem(ctx context.Context, ns, dev string, n Netem) error {
	args := n.Args()
	if len(args) == 0 {
		return fmt.Errorf("nstest: netem on %s/%s: no impairment given", ns, dev)
	}
	out, err := Run(ctx, ns, append([]string{"tc", "qdisc", "replace", "dev", dev, "root", "netem"}, args...)...)
	if err != nil && strings.Contains(out, "qdisc kind is unknown") {
		return fmt.Errorf("nstest: netem on %s/%s: %w", ns, dev, ErrNetemUnsupported)
	}
	return err
}

// RequireNetem skips the test when the kernel lacks netem, probing on the
// loopback device of namespace ns (which it leaves unchanged). This skip
// happens under CI=true too: it is a property of the kernel that no project
// script can fix, and the reason is printed.
func RequireNetem(t testing.TB, ns string) {
	t.Helper()
	RequireBinaries(t, "tc")
	ctx := context.Background()
	err := SetNetem(ctx, ns, "lo", Netem{Delay: time.Microsecond})
	if errors.Is(err, ErrNetemUnsupported) {
		t.Skipf("netem test skipped: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := ClearNetem(ctx, ns, "lo"); err != nil {
		t.Fatal(err)
	}
}

// ClearNetem removes the root qdisc of dev in ns (back to the default).
func ClearNetem(ctx context.Context, ns, dev string) error {
	_, err := Run(ctx, ns, "tc", "qdisc", "del", "dev", dev, "root")
	return err
}
