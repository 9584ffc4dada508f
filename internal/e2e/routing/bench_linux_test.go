package routing

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/platform"
)

// The measurements run only with CVPN_BENCH=1: they take a while and their
// figures are for bench/results.md, not pass/fail (except the sanity bounds
// below, which catch a broken watcher).
func requireBench(t *testing.T) {
	t.Helper()
	if os.Getenv("CVPN_BENCH") != "1" {
		t.Skip("measurement; run with CVPN_BENCH=1")
	}
	nstest.RequireRoot(t)
}

// benchHost opens the platform in a fresh lab's client namespace.
func benchHost(t *testing.T, coalesce time.Duration) (*nstest.Lab, platform.Host, netns.NsHandle) {
	t.Helper()
	lab := nstest.New(t, nstest.Options{ClientDefaultRoute: true})
	ns, err := netns.GetFromName(lab.Client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := platform.OpenNetNS(ns, platform.OpenOptions{NoResolved: true, CoalesceWindow: coalesce})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return lab, h, ns
}

// benchInfo is a split tunnel protecting 172.31.0.0/16 on an interface
// that need not exist (routes through it are never listed).
func benchInfo() client.TunnelInfo {
	return client.TunnelInfo{
		Interface: "cvpnbench", IfIndex: 999999, EnforceRoutes: true,
		Config: platform.TunnelConfig{ID: "bench", Routes: []platform.TunnelRoute{{Dst: netip.MustParsePrefix("172.31.0.0/16")}}},
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// TestMeasureReactionTime measures, over 300 trials per coalescing window,
// the time from a conflicting route being added (netlink RTM_NEWROUTE
// acknowledged) to the enforcer having deleted it (its route-enforced
// event, emitted after the kernel acknowledged the deletion).
func TestMeasureReactionTime(t *testing.T) {
	requireBench(t)
	cases := []struct {
		coalesce time.Duration
		tmpfs    bool // journal on /dev/shm: no disk fsync
	}{{5 * time.Millisecond, false}, {time.Millisecond, false}, {5 * time.Millisecond, true}}
	for _, tc := range cases {
		coalesce := tc.coalesce
		t.Run(fmt.Sprintf("coalesce=%s,tmpfs=%v", coalesce, tc.tmpfs), func(t *testing.T) {
			jdir := t.TempDir()
			if tc.tmpfs {
				d, err := os.MkdirTemp("/dev/shm", "cvpn-bench-")
				if err != nil {
					t.Skipf("no /dev/shm: %v", err)
				}
				t.Cleanup(func() { os.RemoveAll(d) })
				jdir = d
			}
			_, h, ns := benchHost(t, coalesce)
			removed := make(chan string, 16)
			stop := session.StartEnforcement(benchInfo(), session.EnforcerConfig{
				Routes: h, JournalPath: filepath.Join(jdir, "routes-bench.json"),
				Events: func(ev clientapi.Event) {
					if ev.Event == clientapi.EventRouteEnforced && ev.Action == "removed" {
						removed <- strings.Fields(ev.Route)[0]
					}
				},
			})
			defer stop()
			nh, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
			if err != nil {
				t.Fatal(err)
			}
			defer nh.Close()
			link, err := nh.LinkByName(nstest.ClientDev)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // the watcher's first snapshot
			const trials = 300
			var lat []time.Duration
			for i := range trials {
				// Start each trial from a quiet table, as a route added by
				// DHCP or a network manager would: the removal of the last
				// one (an event too) is delivered first.
				time.Sleep(20 * time.Millisecond)
				dst := fmt.Sprintf("172.31.%d.%d/30", i/64, (i%64)*4)
				_, ipn, _ := net.ParseCIDR(dst)
				r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipn, Gw: net.IP(nstest.ServerIP.AsSlice()), Table: unix.RT_TABLE_MAIN}
				t0 := time.Now()
				if err := nh.RouteAdd(r); err != nil {
					t.Fatalf("add %s: %v", dst, err)
				}
				select {
				case got := <-removed:
					if got != dst {
						t.Fatalf("removed %s, want %s", got, dst)
					}
					lat = append(lat, time.Since(t0))
				case <-time.After(2 * time.Second):
					t.Fatalf("trial %d: %s not removed within 2s", i, dst)
				}
			}
			p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
			t.Logf("reaction time over %d trials (coalesce %s, journal on tmpfs %v): p50 %s, p90 %s, p99 %s, max %s",
				trials, coalesce, tc.tmpfs, p50.Round(time.Microsecond), percentile(lat, 0.90).Round(time.Microsecond),
				p99.Round(time.Microsecond), slices.Max(lat).Round(time.Microsecond))
			if p99 > time.Second {
				t.Errorf("p99 %s: the watcher is broken", p99)
			}
		})
	}
}

// TestMeasureWatchCPU measures the CPU the watcher and the enforcer use
// while a main table of 10,000 routes churns: every route is deleted and
// re-added by an `ip -batch` process (its CPU is not ours), and the
// enforcer must still remove a conflict slipped in at the end.
func TestMeasureWatchCPU(t *testing.T) {
	requireBench(t)
	lab, h, _ := benchHost(t, 0)
	const n = 10000
	dir := t.TempDir()
	var add, del strings.Builder
	for i := range n {
		fmt.Fprintf(&add, "route add 10.%d.%d.0/24 via %s\n", i/256, i%256, nstest.ServerIP)
		fmt.Fprintf(&del, "route del 10.%d.%d.0/24 via %s\n", i/256, i%256, nstest.ServerIP)
	}
	addFile, delFile := filepath.Join(dir, "add"), filepath.Join(dir, "del")
	if err := os.WriteFile(addFile, []byte(add.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(delFile, []byte(del.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	nstest.MustRun(t, lab.Client, "ip", "-batch", addFile)

	removed := make(chan string, 16)
	startCPU := cpuTime(t)
	t0 := time.Now()
	stop := session.StartEnforcement(benchInfo(), session.EnforcerConfig{
		Routes: h, JournalPath: filepath.Join(dir, "routes-bench.json"),
		Events: func(ev clientapi.Event) {
			if ev.Event == clientapi.EventRouteEnforced && ev.Action == "removed" {
				removed <- strings.Fields(ev.Route)[0]
			}
		},
	})
	defer stop()
	startWall := time.Since(t0)
	time.Sleep(200 * time.Millisecond) // the watcher's first snapshot of 10k routes
	t.Logf("start with %d routes: %s wall, %s CPU (initial list + watcher snapshot)", n, startWall.Round(time.Microsecond), (cpuTime(t) - startCPU).Round(time.Microsecond))

	idle := cpuTime(t)
	time.Sleep(2 * time.Second)
	t.Logf("idle watching %d routes: %s CPU in 2s", n, (cpuTime(t) - idle).Round(time.Microsecond))

	const rounds = 5
	cpu0 := cpuTime(t)
	w0 := time.Now()
	for range rounds {
		nstest.MustRun(t, lab.Client, "ip", "-batch", delFile)
		nstest.MustRun(t, lab.Client, "ip", "-batch", addFile)
	}
	nstest.MustRun(t, lab.Client, "ip", "route", "add", "172.31.9.0/24", "via", nstest.ServerIP.String())
	select {
	case got := <-removed:
		if got != "172.31.9.0/24" {
			t.Fatalf("removed %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("conflict after churn not removed within 10s")
	}
	wall := time.Since(w0)
	cpu := cpuTime(t) - cpu0
	changes := rounds * 2 * n
	t.Logf("churn: %d route changes in %s wall; cvpn used %s CPU (%.1f%% of one core, %.2f µs per change)",
		changes, wall.Round(time.Millisecond), cpu.Round(time.Millisecond),
		100*cpu.Seconds()/wall.Seconds(), float64(cpu.Microseconds())/float64(changes))
}

// cpuTime is the user+system CPU time of this process (the test binary:
// watcher, enforcer and the test's own light bookkeeping).
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
