package killswitch_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/cvpn/cvpn/platform/killswitch"
)

// udpSend sends one datagram from namespace ns to dst, on a socket marked
// with mark when mark is not 0. A packet the block drops fails at once
// with EPERM (netfilter's verdict on a locally generated packet).
func udpSend(ns string, dst netip.AddrPort, mark uint32) error {
	return nstest.InNS(ns, func() error {
		d := net.Dialer{}
		if mark != 0 {
			d.Control = killswitch.MarkControl(mark)
		}
		c, err := d.Dial("udp", dst.String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	})
}

// TestNFTBlockInNamespace installs a full block in a lab client namespace
// and checks what gets out, then that removing it restores the ruleset
// byte for byte.
func TestNFTBlockInNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "ping")
	lab := nstest.New(t, nstest.Options{LAN: true, ClientDefaultRoute: true})
	before, err := nstest.NFTRuleset(lab.Client)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := nstest.NetNSFd(lab.Client)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	fw := &killswitch.NFT{NetNSFd: fd}
	rules := killswitch.Rules{
		Mode:    killswitch.ModeFull,
		Servers: []killswitch.Server{{Addr: nstest.ServerIP, Port: 1194, Proto: "udp"}},
		Remotes: []killswitch.PortProto{{Port: 1194, Proto: "udp"}},
	}
	if err := fw.Apply(rules); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = fw.Remove() })
	if on, err := fw.Installed(); !on || err != nil {
		t.Fatalf("Installed = %v, %v after Apply", on, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, a := range []netip.Addr{nstest.LANHostIP, nstest.ServerLANIP, nstest.LANHostIP6} {
		if err := nstest.PingFails(ctx, lab.Client, a); err != nil {
			t.Error(err)
		}
	}
	if err := udpSend(lab.Client, netip.AddrPortFrom(nstest.ServerIP, 1194), 0); err != nil {
		t.Errorf("to the VPN server's port: %v, want it let through", err)
	}
	dns := netip.AddrPortFrom(nstest.LANHostIP, 53)
	if err := udpSend(lab.Client, dns, 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("DNS from an unmarked socket: %v, want EPERM", err)
	}
	if err := udpSend(lab.Client, dns, killswitch.DefaultMark); err != nil {
		t.Errorf("DNS from cvpn's marked socket: %v, want it let through", err)
	}
	if err := udpSend(lab.Client, netip.AddrPortFrom(nstest.LANHostIP, 1194), killswitch.DefaultMark); err != nil {
		t.Errorf("marked socket to a remote's port: %v, want it let through", err)
	}

	// Replacing the rules (the tunnel now exists) is one step.
	rules.Mode, rules.VPN = killswitch.ModeSplit, []netip.Prefix{nstest.LANPrefix}
	if err := fw.Apply(rules); err != nil {
		t.Fatal(err)
	}
	if err := udpSend(lab.Client, netip.AddrPortFrom(nstest.ServerLANIP, 53), 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("split block, VPN prefix on the LAN: %v, want EPERM", err)
	}
	if err := udpSend(lab.Client, netip.AddrPortFrom(netip.MustParseAddr("198.18.0.9"), 53), 0); err != nil {
		t.Errorf("split block, outside the VPN's prefixes: %v, want it let through", err)
	}
	listed, err := nstest.NFTRuleset(lab.Client)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(listed, "table "); n != strings.Count(before, "table ")+1 || !strings.Contains(listed, "name="+killswitch.NFTTable) {
		t.Errorf("ruleset while blocked has not exactly one more table (ours):\n%s", listed)
	}

	removed, err := fw.Remove()
	if err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	after, err := nstest.NFTRuleset(lab.Client)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("ruleset after Remove differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if removed, err := fw.Remove(); removed || err != nil {
		t.Errorf("second Remove = %v, %v, want false, nil", removed, err)
	}
}

// TestNFTBlockForwarded installs the block in the lab's server namespace,
// which routes between the client namespace and the LAN namespace: what
// it forwards stands for a container's or a virtual machine's traffic
// on a machine with the block. A full block drops it (except to a
// net_gateway exception), a split block drops it to the VPN's prefixes
// only; removal restores the ruleset byte for byte and the traffic.
func TestNFTBlockForwarded(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireBinaries(t, "ping")
	lab := nstest.New(t, nstest.Options{LAN: true, ClientDefaultRoute: true})
	router, guest := lab.Server, lab.Client
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := nstest.Ping(ctx, guest, nstest.LANHostIP); err != nil {
		t.Fatalf("before the block, the routed host: %v", err)
	}
	before, err := nstest.NFTRuleset(router)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := nstest.NetNSFd(router)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	fw := &killswitch.NFT{NetNSFd: fd}
	t.Cleanup(func() { _, _ = fw.Remove() })
	full := killswitch.Rules{Mode: killswitch.ModeFull, Servers: []killswitch.Server{{Addr: netip.MustParseAddr("192.0.2.1"), Port: 1194, Proto: "udp"}}}
	if err := fw.Apply(full); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{nstest.LANHostIP, nstest.LANHostIP6} {
		if err := nstest.PingFails(ctx, guest, a); err != nil {
			t.Errorf("full block, forwarded: %v", err)
		}
	}
	full.NetGateway = []netip.Prefix{nstest.LANPrefix}
	if err := fw.Apply(full); err != nil {
		t.Fatal(err)
	}
	if err := nstest.Ping(ctx, guest, nstest.LANHostIP); err != nil {
		t.Errorf("full block, forwarded to a net_gateway exception: %v", err)
	}
	if err := fw.Apply(killswitch.Rules{Mode: killswitch.ModeSplit, VPN: []netip.Prefix{nstest.LANPrefix}}); err != nil {
		t.Fatal(err)
	}
	if err := nstest.PingFails(ctx, guest, nstest.LANHostIP); err != nil {
		t.Errorf("split block, forwarded to the VPN's prefix: %v", err)
	}
	if err := nstest.Ping(ctx, guest, nstest.LANHostIP6); err != nil {
		t.Errorf("split block, forwarded outside the VPN's prefixes: %v", err)
	}
	if removed, err := fw.Remove(); err != nil || !removed {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if after, err := nstest.NFTRuleset(router); err != nil || after != before {
		t.Errorf("ruleset after Remove differs (%v):\nbefore:\n%s\nafter:\n%s", err, before, after)
	}
	if err := nstest.Ping(ctx, guest, nstest.LANHostIP); err != nil {
		t.Errorf("after Remove, the routed host: %v", err)
	}
}
