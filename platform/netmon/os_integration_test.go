//go:build darwin || windows

package netmon_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/netmon"
)

// TestOSNetworkChangeEvents: on the real macOS routing socket and the
// Windows notification APIs, a tunnel device appearing with a TEST-NET
// address and disappearing again is reported; ignored by name, it is not.
// The default route is never touched.
func TestOSNetworkChangeEvents(t *testing.T) {
	osinteg.Require(t, "TestOSNetworkChangeEvents (network monitor: link and address events)")
	addr := platform.Address{Prefix: netip.MustParsePrefix("192.0.2.2/32"), Peer: netip.MustParseAddr("192.0.2.1")}
	osinteg.MustTestNet(t, addr.Prefix)
	host, err := platform.Open(platform.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	start := func(ignore []string) (*netmon.Monitor, func()) {
		m, err := netmon.New(netmon.Options{IgnoreInterfaces: ignore, Coalesce: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(500 * time.Millisecond) // the first snapshot
		return m, func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("monitor did not stop within 10s")
			}
		}
	}
	wait := func(m *netmon.Monitor, what string, ok func(netmon.Change) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case c := <-m.Changes():
				if ok(c) {
					return
				}
			case <-deadline:
				t.Fatalf("no change reporting %s within 10s; recent: %+v", what, m.Recent())
			}
		}
	}
	name := "utun"
	if isWindows {
		name = "cvpnostest%d"
	}

	m, stop := start([]string{"no-such-interface"})
	dev, ifname, err := host.CreateTUN(name, 1400)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	if _, err := host.ConfigureInterface(ifname, []platform.Address{addr}, 1400); err != nil {
		dev.Close()
		stop()
		t.Fatal(err)
	}
	wait(m, "the new interface's link or address", func(c netmon.Change) bool { return c.Link || c.Address })
	dev.Close()
	wait(m, "the interface going away", func(c netmon.Change) bool { return c.Link || c.Address })
	stop()

	// Ignored by name, the same churn reports nothing.
	m, stop = start([]string{ifname})
	defer stop()
	m.Ignore(ifname)
	dev, ifname2, err := host.CreateTUN(ifname, 1400)
	if err != nil {
		t.Fatal(err)
	}
	if ifname2 == ifname {
		if _, err := host.ConfigureInterface(ifname2, []platform.Address{addr}, 1400); err != nil {
			t.Error(err)
		}
	}
	dev.Close()
	if ifname2 != ifname {
		t.Skipf("the OS named the second device %s, not %s; the ignore check needs the same name", ifname2, ifname)
	}
	select {
	case c := <-m.Changes():
		t.Errorf("change reported for the ignored interface %s: %+v", ifname, c)
	case <-time.After(2 * time.Second):
	}
}
