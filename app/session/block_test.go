package session

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/killswitch"
	"github.com/cvpn/cvpn/platform/killswitch/killswitchtest"
)

func blockProfile(t *testing.T) *profile.Profile {
	t.Helper()
	return &profile.Profile{
		Name: "work",
		Remotes: []profile.Remote{
			{Host: "203.0.113.7", Port: 1194, Proto: "udp"},
			{Host: "vpn.example.com", Port: 443, Proto: "tcp"},
		},
		Routes: []profile.Route{{Dst: netip.MustParsePrefix("192.168.50.0/24"), GatewayKind: profile.NetGateway}},
	}
}

func TestInitialBlockRules(t *testing.T) {
	r := initialBlockRules(blockProfile(t))
	if r.Mode != killswitch.ModeFull || r.Tunnel != "" {
		t.Errorf("mode %q tunnel %q, want a full block with no tunnel yet", r.Mode, r.Tunnel)
	}
	want := []killswitch.PortProto{{Port: 1194, Proto: "udp"}, {Port: 443, Proto: "tcp"}}
	if len(r.Remotes) != 2 || r.Remotes[0] != want[0] || r.Remotes[1] != want[1] {
		t.Errorf("remotes %+v, want %+v", r.Remotes, want)
	}
	if len(r.Servers) != 1 || r.Servers[0].Addr != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("servers %+v, want the literal address only (the name resolves later)", r.Servers)
	}
	if len(r.NetGateway) != 1 || r.NetGateway[0].String() != "192.168.50.0/24" {
		t.Errorf("net_gateway %v", r.NetGateway)
	}
}

func TestTunnelBlockRules(t *testing.T) {
	remotes := []killswitch.PortProto{{Port: 1194, Proto: "udp"}}
	r := killswitch.Rules{Mode: killswitch.ModeFull, Remotes: remotes}
	info := client.TunnelInfo{Interface: "tun3", Server: netip.MustParseAddr("198.51.100.4"), Config: platform.TunnelConfig{
		Routes: []platform.TunnelRoute{{Dst: netip.MustParsePrefix("10.20.0.0/16")}},
	}}
	tunnelBlockRules(&r, info, remotes)
	if r.Mode != killswitch.ModeSplit || r.Tunnel != "tun3" || len(r.VPN) != 1 || r.VPN[0].String() != "10.20.0.0/16" {
		t.Errorf("split tunnel: %+v", r)
	}
	if len(r.Servers) != 1 || r.Servers[0] != (killswitch.Server{Addr: info.Server, Port: 1194, Proto: "udp"}) {
		t.Errorf("servers %+v", r.Servers)
	}
	info.Config.RedirectIPv4 = true
	tunnelBlockRules(&r, info, remotes)
	if r.Mode != killswitch.ModeFull || r.VPN != nil {
		t.Errorf("redirect-gateway: %+v, want full", r)
	}
}

type blockEvents struct{ evs []clientapi.Event }

func (l *blockEvents) sink(e clientapi.Event) { l.evs = append(l.evs, e) }
func (l *blockEvents) has(kind, text string) bool {
	for _, e := range l.evs {
		if e.Event == kind && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

func TestStartBlockLifecycle(t *testing.T) {
	dir := t.TempDir()
	fw := &killswitchtest.Firewall{}
	var evs blockEvents
	o := &Options{Profile: blockProfile(t), BlockDir: dir, StateDir: dir, Firewall: fw, Logger: discard(), Events: evs.sink, TunnelID: "work"}

	// Not wanted, nothing recorded: nothing happens.
	if b, _, err := o.startBlock(false, false); b != nil || err != nil {
		t.Fatalf("startBlock(false) = %v, %v", b, err)
	}
	if _, _, err := o.startBlock(true, false); err != nil {
		t.Fatal(err)
	}
	if on, _ := fw.Installed(); !on || !evs.has(clientapi.EventBlocked, "all traffic outside the tunnel is blocked") {
		t.Fatalf("installed %v, events %+v", on, evs.evs)
	}
	// A crash: the record says a dead process holds it. The next start
	// that blocks takes it over; one that does not lifts it.
	rec, _ := killswitch.LoadRecord(dir)
	rec.PID = deadPID(t)
	if err := killswitch.SaveRecord(dir, *rec); err != nil {
		t.Fatal(err)
	}
	b2, _, err := o.startBlock(true, false)
	if err != nil || b2 == nil {
		t.Fatalf("take over: %v", err)
	}
	if r, _ := killswitch.LoadRecord(dir); r == nil || r.PID != os.Getpid() {
		t.Errorf("record after take-over: %+v", r)
	}
	rec, _ = killswitch.LoadRecord(dir)
	rec.PID = deadPID(t)
	_ = killswitch.SaveRecord(dir, *rec)
	if b3, _, err := o.startBlock(false, false); b3 != nil || err != nil {
		t.Fatalf("startBlock(false) after a crash = %v, %v", b3, err)
	}
	if on, _ := fw.Installed(); on || !evs.has(clientapi.EventUnblocked, "Removed the full block") {
		t.Errorf("a crashed block is not lifted by a start without blocking: installed %v, events %+v", on, evs.evs)
	}
	// A live other process's block is refused for a new block.
	b, _, _ := o.startBlock(true, true)
	rec, _ = killswitch.LoadRecord(dir)
	rec.PID = os.Getppid()
	_ = killswitch.SaveRecord(dir, *rec)
	if _, _, err := o.startBlock(true, false); err == nil || !strings.Contains(err.Error(), "another cvpn") {
		t.Errorf("second block while another cvpn holds one: %v", err)
	}
	// A failed connection keeps the block and says how to lift it.
	o.endBlock(b, false)
	if on, _ := fw.Installed(); !on || !evs.has(clientapi.EventLog, "an administrator can lift it") {
		t.Errorf("after a fatal error: installed %v, events %+v", on, evs.evs)
	}
	o.endBlock(b, true)
	if on, _ := fw.Installed(); on || !evs.has(clientapi.EventUnblocked, "removed the block") {
		t.Errorf("after disconnect: installed %v", on)
	}
	if r, _ := killswitch.LoadRecord(dir); r != nil {
		t.Errorf("record after disconnect: %+v", r)
	}
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skipf("no /bin/true: %v", err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func TestUpstreamForResolvedStub(t *testing.T) {
	files := map[string]string{resolvedUpstream: "# generated\nnameserver 127.0.0.1\nnameserver 192.168.1.1\nnameserver 9.9.9.9\n"}
	read := func(p string) ([]byte, error) {
		if c, ok := files[p]; ok {
			return []byte(c), nil
		}
		return nil, os.ErrNotExist
	}
	if got := upstreamFor("127.0.0.53:53", read); got != "192.168.1.1:53" {
		t.Errorf("stub: %s, want resolved's first upstream server", got)
	}
	if got := upstreamFor("10.0.0.2:53", read); got != "10.0.0.2:53" {
		t.Errorf("a plain resolver: %s, want it unchanged", got)
	}
	delete(files, resolvedUpstream)
	if got := upstreamFor("127.0.0.53:53", read); got != "127.0.0.53:53" {
		t.Errorf("stub without resolved's file: %s, want it unchanged", got)
	}
}

func TestWantsBlock(t *testing.T) {
	for _, c := range []struct {
		user, optForced, policy bool
		want, forced            bool
	}{
		{false, false, false, false, false},
		{true, false, false, true, false},
		{false, false, true, true, true},
		{true, false, true, true, true},
		{false, true, false, true, true},
	} {
		o := &Options{BlockWhenDown: c.user, BlockForced: c.optForced}
		if w, f := o.wantsBlock(c.policy); w != c.want || f != c.forced {
			t.Errorf("user %v option-forced %v policy %v: want %v forced %v, got %v %v", c.user, c.optForced, c.policy, c.want, c.forced, w, f)
		}
	}
}

// A PUSH_UPDATE that adds VPN prefixes to a split tunnel widens the
// split block; one that adds redirect-gateway turns it into a full block
// and its removal back into a split one.
func TestBlockFollowsRouteUpdates(t *testing.T) {
	dir := t.TempDir()
	fw := &killswitchtest.Firewall{}
	var evs blockEvents
	o := &Options{Profile: blockProfile(t), BlockDir: dir, StateDir: dir, Firewall: fw, Logger: discard(), Events: evs.sink, TunnelID: "work"}
	b, _, err := o.startBlock(true, false)
	if err != nil {
		t.Fatal(err)
	}
	defer o.endBlock(b, true)
	info := client.TunnelInfo{Interface: "tun3", Server: netip.MustParseAddr("203.0.113.7"), Config: platform.TunnelConfig{
		Routes: []platform.TunnelRoute{{Dst: netip.MustParsePrefix("10.20.0.0/16")}},
	}}
	o.blockTunnelUp(b, fw, info)
	updated := o.routesUpdated(&routesFollower{}, b, fw)
	info.Config.Routes = append(info.Config.Routes, platform.TunnelRoute{Dst: netip.MustParsePrefix("192.0.2.0/24")})
	updated(info)
	r, _ := fw.Rules()
	if r.Mode != killswitch.ModeSplit || len(r.VPN) != 2 || r.VPN[1].String() != "192.0.2.0/24" {
		t.Errorf("block after the update added 192.0.2.0/24: mode %s VPN %v", r.Mode, r.VPN)
	}
	if !evs.has(clientapi.EventBlocked, "the VPN's 2 prefixes") {
		t.Errorf("no blocked event for the wider split block: %+v", evs.evs)
	}
	info.Config.RedirectIPv4 = true
	updated(info)
	if r, _ := fw.Rules(); r.Mode != killswitch.ModeFull {
		t.Errorf("block after redirect-gateway: mode %s, want full", r.Mode)
	}
	info.Config.RedirectIPv4 = false
	updated(info)
	if r, _ := fw.Rules(); r.Mode != killswitch.ModeSplit || len(r.VPN) != 2 {
		t.Errorf("block after redirect-gateway was removed: mode %s VPN %v, want split on 2 prefixes", r.Mode, r.VPN)
	}
}
