package killswitch_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/platform/killswitch"
	"github.com/cvpn/cvpn/platform/killswitch/killswitchtest"
)

var (
	server = killswitch.Server{Addr: netip.MustParseAddr("203.0.113.7"), Port: 1194, Proto: "udp"}
	full   = killswitch.Rules{
		Mode: killswitch.ModeFull, Tunnel: "tun0", Servers: []killswitch.Server{server},
		Remotes:    []killswitch.PortProto{{Port: 1194, Proto: "udp"}, {Port: 443, Proto: "tcp"}},
		NetGateway: []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24")},
	}
	split = killswitch.Rules{
		Mode: killswitch.ModeSplit, Tunnel: "tun0", Servers: []killswitch.Server{server},
		VPN:        []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd31::/32")},
		NetGateway: []netip.Prefix{netip.MustParsePrefix("10.20.5.0/24")},
	}
)

// first returns the verdict of the first rule of p that matches the packet.
func first(p killswitch.Plan, oif string, dst netip.Addr, proto uint8, sport, dport uint16, mark uint32) killswitch.Verdict {
	for _, r := range p.Rules {
		if r.OutIface != "" && r.OutIface != oif {
			continue
		}
		if r.Family == 4 && !dst.Is4() || r.Family == 6 && !dst.Is6() {
			continue
		}
		if r.Dst.IsValid() && !r.Dst.Contains(dst) {
			continue
		}
		if r.Proto != 0 && r.Proto != proto || r.SrcPort != 0 && r.SrcPort != sport || r.DstPort != 0 && r.DstPort != dport {
			continue
		}
		if r.HasICMP && uint16(r.ICMPType) != dport { // dport carries the ICMP type here
			continue
		}
		if r.Mark != 0 && r.Mark != mark {
			continue
		}
		return r.Verdict
	}
	return p.Policy
}

func TestFullPlanLetsOutOnlyWhatTheVPNNeeds(t *testing.T) {
	p := full.Plan()
	a := netip.MustParseAddr
	m := killswitch.DefaultMark
	cases := []struct {
		name  string
		oif   string
		dst   netip.Addr
		proto uint8
		sport uint16
		dport uint16
		mark  uint32
		want  killswitch.Verdict
	}{
		{"web to the LAN", "eth0", a("192.168.1.10"), 6, 40000, 80, 0, killswitch.Drop},
		{"ping outside", "eth0", a("8.8.8.8"), 1, 0, 0, 0, killswitch.Drop},
		{"DNS to a LAN resolver", "eth0", a("192.168.1.1"), 17, 40000, 53, 0, killswitch.Drop},
		{"DNS over TCP", "eth0", a("192.168.1.1"), 6, 40000, 53, 0, killswitch.Drop},
		{"cvpn's marked DNS lookup", "eth0", a("192.168.1.1"), 17, 40000, 53, m, killswitch.Accept},
		{"someone else's mark", "eth0", a("192.168.1.1"), 17, 40000, 53, 7, killswitch.Drop},
		{"anything through the tunnel", "tun0", a("8.8.8.8"), 6, 40000, 443, 0, killswitch.Accept},
		{"loopback", "lo", a("127.0.0.1"), 6, 40000, 631, 0, killswitch.Accept},
		{"the VPN server", "eth0", a("203.0.113.7"), 17, 40000, 1194, 0, killswitch.Accept},
		{"the VPN server, other port", "eth0", a("203.0.113.7"), 17, 40000, 1195, 0, killswitch.Drop},
		{"cvpn to a re-resolved remote", "eth0", a("198.51.100.9"), 6, 40000, 443, m, killswitch.Accept},
		{"unmarked to a remote port", "eth0", a("198.51.100.9"), 6, 40000, 443, 0, killswitch.Drop},
		{"DHCPv4", "eth0", a("255.255.255.255"), 17, 68, 67, 0, killswitch.Accept},
		{"DHCPv6", "eth0", a("ff02::1:2"), 17, 546, 547, 0, killswitch.Accept},
		{"neighbour solicitation", "eth0", a("ff02::1:ff00:1"), 58, 0, 135, 0, killswitch.Accept},
		{"ICMPv6 echo", "eth0", a("2001:db8::1"), 58, 0, 128, 0, killswitch.Drop},
		{"net_gateway exception", "eth0", a("192.168.7.3"), 6, 40000, 22, 0, killswitch.Accept},
		{"IPv6 web", "eth0", a("2001:db8::1"), 6, 40000, 443, 0, killswitch.Drop},
	}
	for _, c := range cases {
		if got := first(p, c.oif, c.dst, c.proto, c.sport, c.dport, c.mark); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSplitPlanBlocksOnlyTheVPNPrefixes(t *testing.T) {
	p := split.Plan()
	a := netip.MustParseAddr
	cases := []struct {
		name string
		oif  string
		dst  netip.Addr
		want killswitch.Verdict
	}{
		{"VPN prefix on the LAN", "eth0", a("10.20.1.1"), killswitch.Drop},
		{"VPN IPv6 prefix on the LAN", "wlan0", a("fd31::5"), killswitch.Drop},
		{"VPN prefix through the tunnel", "tun0", a("10.20.1.1"), killswitch.Accept},
		{"net_gateway exception", "eth0", a("10.20.5.5"), killswitch.Accept},
		{"internet", "eth0", a("8.8.8.8"), killswitch.Accept},
		{"DNS anywhere", "eth0", a("192.168.1.1"), killswitch.Accept},
	}
	for _, c := range cases {
		if got := first(p, c.oif, c.dst, 17, 40000, 53, 0); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Before the tunnel exists the VPN's prefixes go nowhere.
	noTun := split
	noTun.Tunnel = ""
	if got := first(noTun.Plan(), "tun0", a("10.20.1.1"), 6, 1, 2, 0); got != killswitch.Drop {
		t.Errorf("VPN prefix with no tunnel yet: %v, want drop", got)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		r    killswitch.Rules
		want string
	}{
		{killswitch.Rules{Mode: "half"}, `mode "half"`},
		{killswitch.Rules{Mode: killswitch.ModeFull, Tunnel: "a-very-long-interface-name"}, "longer than 15"},
		{killswitch.Rules{Mode: killswitch.ModeFull, Servers: []killswitch.Server{{Addr: server.Addr, Port: 1194, Proto: "sctp"}}}, `proto "sctp"`},
		{killswitch.Rules{Mode: killswitch.ModeSplit}, "needs the VPN's prefixes"},
	} {
		err := c.r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error with %q", c.r, err, c.want)
		}
	}
}

func TestPFRules(t *testing.T) {
	got, err := killswitch.PFRules(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"pass out quick on lo0 all keep state\n",
		"pass out quick on tun0 all keep state\n",
		"pass out quick inet proto udp from any to 203.0.113.7/32 port 1194 keep state\n",
		"pass out quick inet from any to 192.168.7.0/24 keep state\n",
		"pass out quick proto tcp from any to any port 443 user root keep state\n",
		"pass out quick proto udp from any to any port 53 user root keep state\n",
		"pass out quick inet proto udp from any port 68 to any port 67 keep state\n",
		"pass out quick inet6 proto icmp6 all icmp6-type 135\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("pf rules lack %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "block drop out quick all\n") {
		t.Errorf("full block does not end with the catch-all block:\n%s", got)
	}
	got, err = killswitch.PFRules(split)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "block drop out quick inet6 from any to fd31::/32\n") || strings.Contains(got, "out quick all\n") {
		t.Errorf("split pf rules:\n%s", got)
	}
	if i, j := strings.Index(got, "10.20.5.0/24"), strings.Index(got, "block drop out quick inet from any to 10.20.0.0/16"); i < 0 || j < 0 || i > j {
		t.Errorf("the net_gateway exception must come before the VPN prefix's block:\n%s", got)
	}
}

func TestBlockLifecycle(t *testing.T) {
	dir := t.TempDir()
	fw := &killswitchtest.Firewall{}
	start := full
	start.Tunnel, start.Servers = "", nil
	b, err := killswitch.Hold(fw, dir, killswitch.Record{Profile: "lab", PID: 42, UID: 1000, Rules: start})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := killswitch.LoadRecord(dir)
	if err != nil || rec == nil || rec.Profile != "lab" || rec.Backend != "fake firewall" {
		t.Fatalf("record after Hold: %+v, %v", rec, err)
	}
	if err := b.Update(func(r *killswitch.Rules) { r.Tunnel = "tun0"; r.Servers = append(r.Servers, server) }); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(r *killswitch.Rules) { r.Tunnel = "tun0" }); err != nil {
		t.Fatal(err)
	}
	if h := fw.History(); len(h) != 2 || h[1].Tunnel != "tun0" {
		t.Errorf("applied %d rule sets (%+v), want 2 (an unchanged update installs nothing)", len(h), h)
	}
	rec, _ = killswitch.LoadRecord(dir)
	if rec.Rules.Tunnel != "tun0" || len(rec.Rules.Servers) != 1 {
		t.Errorf("record after Update: %+v", rec.Rules)
	}
	// A crash leaves rules and record; LiftRecorded removes both and says so.
	l, err := killswitch.LiftRecorded(fw, dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := l.String(); !strings.Contains(s, `full block of "lab"`) || !strings.Contains(s, "chosen by the user") || !strings.Contains(s, "fake firewall") {
		t.Errorf("lift message %q", s)
	}
	if on, _ := fw.Installed(); on {
		t.Error("rules still installed after LiftRecorded")
	}
	if _, err := os.Stat(filepath.Join(dir, killswitch.RecordFile)); !os.IsNotExist(err) {
		t.Errorf("record still there: %v", err)
	}
	l, err = killswitch.LiftRecorded(fw, dir)
	if err != nil || l.String() != "No block was in place." {
		t.Errorf("second lift: %q, %v", l, err)
	}
}

func TestHoldFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	fw := &killswitchtest.Firewall{FailApply: errors.New("netlink: operation not permitted")}
	if _, err := killswitch.Hold(fw, dir, killswitch.Record{Rules: full}); err == nil || !strings.Contains(err.Error(), "operation not permitted") {
		t.Fatalf("Hold: %v", err)
	}
	if rec, err := killswitch.LoadRecord(dir); rec != nil || err != nil {
		t.Errorf("record left after a failed Hold: %+v %v", rec, err)
	}
}

func TestLoadRecordRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, killswitch.RecordFile), []byte(`{"version":1,"rules":{"mode":"half"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := killswitch.LoadRecord(dir); err == nil || !strings.Contains(err.Error(), killswitch.RecordFile) {
		t.Errorf("LoadRecord of a bad record: %v, want an error naming the file", err)
	}
}

func TestRestoreAndLiftedByOthers(t *testing.T) {
	dir := t.TempDir()
	fw := &killswitchtest.Firewall{}
	b, err := killswitch.Hold(fw, dir, killswitch.Record{Profile: "lab", PID: 1, Rules: full})
	if err != nil {
		t.Fatal(err)
	}
	// The holder runs: nothing to restore.
	if rec, err := killswitch.Restore(fw, dir, func(int) bool { return true }); rec != nil || err != nil {
		t.Errorf("Restore with the holder alive = %v, %v", rec, err)
	}
	// After a reboot the rules are gone, the record is not.
	_, _ = fw.Remove()
	rec, err := killswitch.Restore(fw, dir, func(int) bool { return false })
	if err != nil || rec == nil || rec.Profile != "lab" {
		t.Fatalf("Restore = %+v, %v", rec, err)
	}
	if r, _ := fw.Rules(); !r.Equal(full) {
		t.Errorf("restored %+v", r)
	}
	// cvpn unblock (root) lifts it behind the holder's back: the holder's
	// next update does not put it back.
	if _, err := killswitch.LiftRecorded(fw, dir); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(r *killswitch.Rules) { r.Tunnel = "tun9" }); err != nil {
		t.Fatal(err)
	}
	if on, _ := fw.Installed(); on || !b.Lifted() {
		t.Errorf("an update after cvpn unblock re-installed the block (installed %v, lifted %v)", on, b.Lifted())
	}
}

// forwarded returns the verdict of the forward plan p for a routed packet.
func forwarded(p killswitch.Plan, iif, oif string, src, dst netip.Addr, proto uint8, sport, dport uint16) killswitch.Verdict {
	for _, r := range p.Rules {
		if r.Mark != 0 || r.HasICMP {
			return killswitch.Verdict(99) // only the machine's own packets have marks; no ICMP rules here
		}
		if r.OutIface != "" && r.OutIface != oif || r.InIface != "" && r.InIface != iif {
			continue
		}
		if r.Family == 4 && !dst.Is4() || r.Family == 6 && !dst.Is6() {
			continue
		}
		if r.Dst.IsValid() && !r.Dst.Contains(dst) || r.Src.IsValid() && !r.Src.Contains(src) {
			continue
		}
		if r.Proto != 0 && r.Proto != proto || r.SrcPort != 0 && r.SrcPort != sport || r.DstPort != 0 && r.DstPort != dport {
			continue
		}
		return r.Verdict
	}
	return p.Policy
}

func TestForwardPlan(t *testing.T) {
	a := netip.MustParseAddr
	guest, web := a("172.17.0.2"), a("93.184.216.34")
	cases := []struct {
		name         string
		plan         killswitch.Plan
		iif, oif     string
		src, dst     netip.Addr
		sport, dport uint16
		want         killswitch.Verdict
	}{
		{"full: a container to the internet", full.ForwardPlan(), "docker0", "eth0", guest, web, 40000, 443, killswitch.Drop},
		{"full: a container's DNS", full.ForwardPlan(), "docker0", "eth0", guest, a("192.168.1.1"), 40000, 53, killswitch.Drop},
		{"full: into the tunnel", full.ForwardPlan(), "docker0", "tun0", guest, web, 40000, 443, killswitch.Accept},
		{"full: an answer from the tunnel", full.ForwardPlan(), "tun0", "docker0", web, guest, 443, 40000, killswitch.Accept},
		{"full: to a net_gateway exception", full.ForwardPlan(), "docker0", "eth0", guest, a("192.168.7.3"), 40000, 22, killswitch.Accept},
		{"full: its answer", full.ForwardPlan(), "eth0", "docker0", a("192.168.7.3"), guest, 22, 40000, killswitch.Accept},
		{"full: to the VPN server", full.ForwardPlan(), "docker0", "eth0", guest, a("203.0.113.7"), 40000, 1194, killswitch.Accept},
		{"full: the server's answer", full.ForwardPlan(), "eth0", "docker0", a("203.0.113.7"), guest, 1194, 40000, killswitch.Accept},
		{"full: the server, other port", full.ForwardPlan(), "docker0", "eth0", guest, a("203.0.113.7"), 40000, 22, killswitch.Drop},
		{"full: the internet to a container", full.ForwardPlan(), "eth0", "docker0", web, guest, 443, 40000, killswitch.Drop},
		{"split: a container to the VPN's prefix", split.ForwardPlan(), "docker0", "eth0", guest, a("10.20.1.1"), 40000, 443, killswitch.Drop},
		{"split: the VPN's prefix through the tunnel", split.ForwardPlan(), "docker0", "tun0", guest, a("10.20.1.1"), 40000, 443, killswitch.Accept},
		{"split: the internet", split.ForwardPlan(), "docker0", "eth0", guest, web, 40000, 443, killswitch.Accept},
	}
	for _, c := range cases {
		if got := forwarded(c.plan, c.iif, c.oif, c.src, c.dst, 17, c.sport, c.dport); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
