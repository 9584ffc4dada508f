//go:build darwin || windows

package killswitch_test

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/osinteg"
	"github.com/cvpn/cvpn/platform/killswitch"
)

// The TEST-NET addresses of the OS killswitch tests: the server the block
// lets through, a host outside every allowed set, and (split) the VPN's
// prefix with one exception inside it.
var (
	osServer    = netip.MustParseAddr("192.0.2.1")
	osOutside   = netip.MustParseAddr("198.51.100.9")
	osVPN       = netip.MustParsePrefix("203.0.113.0/24")
	osInVPN     = netip.MustParseAddr("203.0.113.9")
	osException = netip.MustParsePrefix("203.0.113.128/25")
	osInExcept  = netip.MustParseAddr("203.0.113.200")
)

const osServerPort = 1194

// udpSend sends one datagram to the discard port of dst (or port) on a
// connected socket and returns the error of the connect or the send: pf
// reports a packet it blocks on the way out to the sender ("No route to
// host"), WFP a connection it blocks at ALE_AUTH_CONNECT (an access
// error).
func udpSend(dst netip.Addr, port uint16) error {
	if port == 0 {
		port = 9
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("cvpn os killswitch test"))
	return err
}

// loopbackWorks sends a datagram to a socket on 127.0.0.1 and reads it.
func loopbackWorks(t *testing.T) {
	t.Helper()
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := udpSend(netip.MustParseAddr("127.0.0.1"), uint16(l.LocalAddr().(*net.UDPAddr).Port)); err != nil {
		t.Errorf("loopback send while blocked: %v", err)
		return
	}
	_ = l.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	if _, _, err := l.ReadFromUDP(buf); err != nil {
		t.Errorf("loopback datagram not received while blocked: %v", err)
	}
}

// holdAndLift holds a block of rules (record in a temporary state
// directory), runs check while it is installed, lifts it, and asserts the
// firewall state (fwState) equals the state before.
func holdAndLift(t *testing.T, r killswitch.Rules, check func(t *testing.T, fw killswitch.Firewall)) {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range r.Servers {
		ps = append(ps, netip.PrefixFrom(s.Addr, s.Addr.BitLen()))
	}
	osinteg.MustTestNet(t, append(append(ps, r.VPN...), r.NetGateway...)...)
	fw, err := killswitch.Open(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	before := fwState(t)
	if ours(before) {
		t.Skipf("the firewall already holds what %s installs (a block of cvpn); the test does not replace it:\n%s", fw, before)
	}
	dir := t.TempDir()
	b, err := killswitch.Hold(fw, dir, killswitch.Record{Profile: "ostest", PID: os.Getpid(), UID: -1, Rules: r})
	if err != nil {
		t.Fatal(err)
	}
	lifted := false
	defer func() {
		if !lifted {
			_ = b.Lift()
		}
	}()
	if ok, err := fw.Installed(); err != nil || !ok {
		t.Errorf("%s: Installed() = %v, %v after Hold", fw, ok, err)
	}
	if during := fwState(t); !ours(during) {
		t.Errorf("%s not visible in the firewall's own state after Hold:\n%s", fw, during)
	}
	check(t, fw)
	if err := b.Lift(); err != nil {
		t.Fatal(err)
	}
	lifted = true
	if ok, err := fw.Installed(); err != nil || ok {
		t.Errorf("%s: Installed() = %v, %v after Lift", fw, ok, err)
	}
	if rec, err := killswitch.LoadRecord(dir); err != nil || rec != nil {
		t.Errorf("record after Lift: %+v, %v", rec, err)
	}
	if after := fwState(t); after != before {
		t.Errorf("firewall state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestOSKillswitchFullBlock: a full-tunnel block with a TEST-NET server is
// installed in the OS firewall (pf anchor, WFP filters), lets loopback and
// the server through, blocks other destinations (macOS; see
// udpChecksWhileBlocked), and is removed without a trace. The block holds
// for about a second: other software on the machine loses its traffic for
// that long.
func TestOSKillswitchFullBlock(t *testing.T) {
	osinteg.Require(t, "TestOSKillswitchFullBlock (firewall block of all traffic outside the tunnel, for about a second)")
	routed := udpSend(osOutside, 0) == nil // a route to TEST-NET exists (the default route)
	r := killswitch.Rules{
		Mode:    killswitch.ModeFull,
		Servers: []killswitch.Server{{Addr: osServer, Port: osServerPort, Proto: "udp"}},
		Remotes: []killswitch.PortProto{{Port: osServerPort, Proto: "udp"}},
	}
	holdAndLift(t, r, func(t *testing.T, fw killswitch.Firewall) {
		checkInstalled(t, fw, r)
		loopbackWorks(t)
		if !udpChecksWhileBlocked {
			t.Logf("%s permits this test process itself (cvpn's executable), so its own sends cannot show the block; checked through the filters only", fw)
			return
		}
		if !routed {
			t.Logf("no route to %s before the block (no default route): send checks skipped", osOutside)
			return
		}
		if err := udpSend(osOutside, 0); err == nil {
			t.Errorf("UDP to %s left while the full block was installed", osOutside)
		} else {
			t.Logf("UDP to %s while blocked: %v", osOutside, err)
		}
		if err := udpSend(osServer, osServerPort); err != nil {
			t.Errorf("UDP to the server %s:%d refused while blocked: %v", osServer, osServerPort, err)
		}
	})
}

// TestOSKillswitchSplitBlock: a split-tunnel block drops the VPN's
// TEST-NET prefix outside the tunnel except its net_gateway exception and
// leaves every other destination alone (pf anchor, WFP filters). Only
// TEST-NET traffic is affected.
func TestOSKillswitchSplitBlock(t *testing.T) {
	osinteg.Require(t, "TestOSKillswitchSplitBlock (firewall block of a TEST-NET prefix outside the tunnel)")
	r := killswitch.Rules{
		Mode:       killswitch.ModeSplit,
		Servers:    []killswitch.Server{{Addr: osServer, Port: osServerPort, Proto: "udp"}},
		VPN:        []netip.Prefix{osVPN},
		NetGateway: []netip.Prefix{osException},
	}
	routed := udpSend(osOutside, 0) == nil && udpSend(osInVPN, 0) == nil
	holdAndLift(t, r, func(t *testing.T, fw killswitch.Firewall) {
		checkInstalled(t, fw, r)
		loopbackWorks(t)
		if !routed {
			t.Logf("no route to TEST-NET before the block (no default route): send checks skipped")
			return
		}
		if err := udpSend(osInVPN, 0); err == nil {
			t.Errorf("UDP to %s (inside the VPN's %s) left outside the tunnel while blocked", osInVPN, osVPN)
		}
		if err := udpSend(osInExcept, 0); err != nil {
			t.Errorf("UDP to %s (net_gateway exception %s) refused: %v", osInExcept, osException, err)
		}
		if err := udpSend(osOutside, 0); err != nil {
			t.Errorf("UDP to %s (outside the VPN's prefixes) refused by a split block: %v", osOutside, err)
		}
	})
}
