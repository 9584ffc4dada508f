package nstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Interface names inside the lab namespaces.
const (
	ClientDev    = "eth0" // client side of the client<->server link
	ServerDev    = "eth0" // server side of the client<->server link
	ServerLANDev = "eth1" // server side of the server<->lan link
	LANDev       = "eth0" // lan side of the server<->lan link
)

// Fixed lab addresses. Each lab lives in its own namespaces, so labs that
// run at the same time do not conflict.
var (
	LinkPrefix    = netip.MustParsePrefix("198.18.0.0/24")
	LinkPrefix6   = netip.MustParsePrefix("fd18::/64")
	LANPrefix     = netip.MustParsePrefix("198.19.0.0/24")
	LANPrefix6    = netip.MustParsePrefix("fd19::/64")
	ClientIP      = netip.MustParseAddr("198.18.0.1")
	ClientIP6     = netip.MustParseAddr("fd18::1")
	ServerIP      = netip.MustParseAddr("198.18.0.2")
	ServerIP6     = netip.MustParseAddr("fd18::2")
	ServerLANIP   = netip.MustParseAddr("198.19.0.1")
	ServerLANIP6  = netip.MustParseAddr("fd19::1")
	LANHostIP     = netip.MustParseAddr("198.19.0.2")
	LANHostIP6    = netip.MustParseAddr("fd19::2")
	linkBits      = 24
	linkBits6     = 64
	defaultResolv = "# resolv.conf of nstest namespace %s (bind-mounted by ip netns exec)\n"
)

// Options shape a lab.
type Options struct {
	// LAN adds a third namespace behind the server; the server forwards
	// IPv4 and IPv6 between its two links.
	LAN bool
	// ClientDefaultRoute gives the client default routes (v4 and v6) via
	// the server's link address. Off by default so that the lan is only
	// reachable through a tunnel.
	ClientDefaultRoute bool
	// ResolvConf is the initial /etc/netns/NAME/resolv.conf of every
	// namespace; empty means a single comment line.
	ResolvConf string
	// Logger receives one debug record per setup command; nil discards.
	Logger *slog.Logger
}

// Lab is a set of namespaces built by New or Create.
type Lab struct {
	Suffix string // random, shared by the namespace names
	Client string // namespace names
	Server string
	LAN    string // "" without Options.LAN

	log       *slog.Logger
	closeOnce sync.Once
	closeErr  error
}

// Namespaces returns the lab's namespace names.
func (l *Lab) Namespaces() []string {
	ns := []string{l.Client, l.Server}
	if l.LAN != "" {
		ns = append(ns, l.LAN)
	}
	return ns
}

// New builds a lab for a test: it calls RequireRoot, and registers Close
// with t.Cleanup (so the lab disappears even when the test fails).
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := Create(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("nstest: lab cleanup: %v", err)
		}
	})
	return l
}

// Create builds a lab. On error everything already created is removed.
// The caller must call Close.
func Create(ctx context.Context, opts Options) (*Lab, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	suffix := hex.EncodeToString(b[:])
	l := &Lab{
		Suffix: suffix,
		Client: "cvpn-client-" + suffix,
		Server: "cvpn-server-" + suffix,
		log:    opts.Logger,
	}
	if opts.LAN {
		l.LAN = "cvpn-lan-" + suffix
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if err := l.build(ctx, opts); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return l, nil
}

func (l *Lab) run(ctx context.Context, ns string, argv ...string) error {
	l.log.Debug("nstest setup", "ns", ns, "argv", argv)
	_, err := Run(ctx, ns, argv...)
	return err
}

func (l *Lab) build(ctx context.Context, opts Options) error {
	for _, ns := range l.Namespaces() {
		if err := l.run(ctx, "", "ip", "netns", "add", ns); err != nil {
			return err
		}
		resolv := opts.ResolvConf
		if resolv == "" {
			resolv = fmt.Sprintf(defaultResolv, ns)
		}
		if err := writeResolvConf(ns, resolv); err != nil {
			return err
		}
		// No IPv6 duplicate address detection: addresses (link-local ones
		// and those a tunnel adds later) are usable at once, and snapshots
		// do not change when a "tentative" flag goes away.
		if err := l.run(ctx, ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"); err != nil {
			return err
		}
		if err := l.run(ctx, "", "ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	type addr struct {
		ns, dev string
		a       netip.Addr
		bits    int
	}
	links := [][]string{{l.Client, ClientDev, l.Server, ServerDev}}
	addrs := []addr{
		{l.Client, ClientDev, ClientIP, linkBits}, {l.Client, ClientDev, ClientIP6, linkBits6},
		{l.Server, ServerDev, ServerIP, linkBits}, {l.Server, ServerDev, ServerIP6, linkBits6},
	}
	if l.LAN != "" {
		links = append(links, []string{l.Server, ServerLANDev, l.LAN, LANDev})
		addrs = append(addrs,
			addr{l.Server, ServerLANDev, ServerLANIP, linkBits}, addr{l.Server, ServerLANDev, ServerLANIP6, linkBits6},
			addr{l.LAN, LANDev, LANHostIP, linkBits}, addr{l.LAN, LANDev, LANHostIP6, linkBits6})
	}
	for _, k := range links {
		if err := l.run(ctx, "", "ip", "-n", k[0], "link", "add", k[1], "type", "veth", "peer", "name", k[3], "netns", k[2]); err != nil {
			return err
		}
	}
	for _, a := range addrs {
		argv := []string{"ip", "-n", a.ns, "addr", "add", netip.PrefixFrom(a.a, a.bits).String(), "dev", a.dev}
		if a.a.Is6() {
			argv = append(argv, "nodad") // usable at once, no tentative phase
		}
		if err := l.run(ctx, "", argv...); err != nil {
			return err
		}
	}
	for _, k := range links {
		for _, nd := range [][2]string{{k[0], k[1]}, {k[2], k[3]}} {
			if err := l.run(ctx, "", "ip", "-n", nd[0], "link", "set", nd[1], "up"); err != nil {
				return err
			}
		}
	}
	if l.LAN != "" {
		if err := l.run(ctx, l.Server, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"); err != nil {
			return err
		}
		if err := l.run(ctx, "", "ip", "-n", l.LAN, "route", "add", "default", "via", ServerLANIP.String()); err != nil {
			return err
		}
		if err := l.run(ctx, "", "ip", "-n", l.LAN, "-6", "route", "add", "default", "via", ServerLANIP6.String()); err != nil {
			return err
		}
	}
	for _, k := range links {
		for _, nd := range [][2]string{{k[0], k[1]}, {k[2], k[3]}} {
			if err := waitCarrier(ctx, nd[0], nd[1]); err != nil {
				return err
			}
		}
	}
	for _, ns := range l.Namespaces() {
		if err := waitNoTentative(ctx, ns); err != nil {
			return err
		}
	}
	if opts.ClientDefaultRoute {
		if err := l.run(ctx, "", "ip", "-n", l.Client, "route", "add", "default", "via", ServerIP.String()); err != nil {
			return err
		}
		if err := l.run(ctx, "", "ip", "-n", l.Client, "-6", "route", "add", "default", "via", ServerIP6.String()); err != nil {
			return err
		}
	}
	return nil
}

// ResolvConfPath is the file `ip netns exec ns` bind-mounts over
// /etc/resolv.conf.
func ResolvConfPath(ns string) string {
	return filepath.Join("/etc/netns", ns, "resolv.conf")
}

func writeResolvConf(ns, content string) error {
	dir := filepath.Dir(ResolvConfPath(ns))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nstest: %w", err)
	}
	if err := os.WriteFile(ResolvConfPath(ns), []byte(content), 0o644); err != nil {
		return fmt.Errorf("nstest: %w", err)
	}
	return nil
}

// Close kills every process left in the lab's namespaces (by PID), deletes
// the namespaces and their /etc/netns directories. It is idempotent.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		for _, ns := range l.Namespaces() {
			if err := deleteNamespace(ns); err != nil {
				errs = append(errs, err)
			}
		}
		// Shared parent; removed only when no other lab uses it.
		_ = os.Remove("/etc/netns")
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

func deleteNamespace(ns string) error {
	var errs []error
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
		if err := killNamespacePIDs(ns); err != nil {
			errs = append(errs, err)
		}
		if _, err := Run(context.Background(), "", "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join("/etc/netns", ns)); err != nil {
		errs = append(errs, fmt.Errorf("nstest: %w", err))
	}
	return errors.Join(errs...)
}

// killNamespacePIDs sends SIGKILL to every process in ns and waits (bounded)
// until none is left.
func killNamespacePIDs(ns string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := Run(context.Background(), "", "ip", "netns", "pids", ns)
		if err != nil {
			return err
		}
		pids := strings.Fields(out)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nstest: processes %v in namespace %s survive SIGKILL", pids, ns)
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCarrier waits (bounded) until dev in ns has carrier (LOWER_UP) and
// its IPv6 link-local address: the kernel reports a veth's carrier some
// time after both ends are set up and adds the fe80 address then, and a
// snapshot taken before that differs from every later one (NO-CARRIER,
// state DOWN, no fe80 address).
func waitCarrier(ctx context.Context, ns, dev string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		link, err := Run(ctx, "", "ip", "-n", ns, "-o", "link", "show", "dev", dev)
		if err != nil {
			return err
		}
		ll, err := Run(ctx, "", "ip", "-n", ns, "-o", "-6", "addr", "show", "dev", dev, "scope", "link")
		if err != nil {
			return err
		}
		if strings.Contains(link, "LOWER_UP") && !strings.Contains(link, "NO-CARRIER") && strings.Contains(ll, "fe80::") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nstest: %s in namespace %s has no carrier or no link-local address 5 s after it was set up:\n%s%s", dev, ns, link, ll)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitNoTentative waits (bounded) until ns has no IPv6 address in the
// tentative state.
func waitNoTentative(ctx context.Context, ns string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := Run(ctx, "", "ip", "-n", ns, "-6", "addr", "show", "tentative")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nstest: namespace %s still has tentative IPv6 addresses:\n%s", ns, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
