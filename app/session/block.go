package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/killswitch"
)

// wantsBlock reports whether this session blocks traffic while the tunnel
// is down, and whether the administrator forces it.
// policyForces is block_when_down of the administrator's policy file.
func (o *Options) wantsBlock(policyForces bool) (want, forced bool) {
	forced = o.BlockForced || policyForces
	return forced || o.BlockWhenDown, forced
}

// initialBlockRules are the rules held from the moment connect starts:
// a full block (whether the server pushes redirect-gateway is not known
// yet) that lets cvpn reach the profile's remotes and resolve their names.
func initialBlockRules(p *profile.Profile) killswitch.Rules {
	r := killswitch.Rules{Mode: killswitch.ModeFull}
	for _, rem := range p.Remotes {
		pp := killswitch.PortProto{Port: uint16(rem.Port), Proto: transportProto(string(rem.Proto))}
		if !containsPortProto(r.Remotes, pp) {
			r.Remotes = append(r.Remotes, pp)
		}
		if a, err := netip.ParseAddr(rem.Host); err == nil {
			r.Servers = addServer(r.Servers, killswitch.Server{Addr: a.Unmap(), Port: pp.Port, Proto: pp.Proto})
		}
	}
	for _, rt := range p.Routes {
		if rt.GatewayKind == profile.NetGateway {
			r.NetGateway = append(r.NetGateway, rt.Dst.Masked())
		}
	}
	return r
}

func transportProto(p string) string {
	if strings.HasPrefix(p, "tcp") {
		return "tcp"
	}
	return "udp"
}

func containsPortProto(l []killswitch.PortProto, x killswitch.PortProto) bool {
	for _, y := range l {
		if y == x {
			return true
		}
	}
	return false
}

func addServer(l []killswitch.Server, s killswitch.Server) []killswitch.Server {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// tunnelBlockRules adapts the rules to a tunnel that came up: its
// interface and server are let through; a tunnel without redirect-gateway
// (split tunnel) blocks only the VPN's prefixes outside it.
func tunnelBlockRules(r *killswitch.Rules, info client.TunnelInfo, remotes []killswitch.PortProto) {
	r.Tunnel = info.Interface
	if info.Server.IsValid() {
		// The transport of the server that answered: the one remote whose
		// port matches, else every remote's.
		for _, pp := range remotes {
			r.Servers = addServer(r.Servers, killswitch.Server{Addr: info.Server.Unmap(), Port: pp.Port, Proto: pp.Proto})
		}
	}
	r.NetGateway = nil
	for _, n := range info.Config.NetGatewayRoutes {
		r.NetGateway = append(r.NetGateway, n.Masked())
	}
	if info.Config.RedirectIPv4 || info.Config.RedirectIPv6 {
		r.Mode, r.VPN = killswitch.ModeFull, nil
		return
	}
	var vpn []netip.Prefix
	for _, rt := range info.Config.Routes {
		vpn = append(vpn, rt.Dst.Masked())
	}
	if len(vpn) > 0 {
		r.Mode, r.VPN = killswitch.ModeSplit, vpn
	}
}

// describeBlock is the blocked event's text.
func describeBlock(r killswitch.Rules, fw killswitch.Firewall) string {
	if r.Mode == killswitch.ModeSplit {
		return fmt.Sprintf("traffic to the VPN's %d prefixes is blocked outside the tunnel (%s)", len(r.VPN), fw)
	}
	s := "all traffic outside the tunnel is blocked except to the VPN server"
	if len(r.NetGateway) > 0 {
		s += fmt.Sprintf(" and %d net_gateway exceptions", len(r.NetGateway))
	}
	return s + " (" + fw.String() + "); a captive portal cannot be reached while blocked"
}

// systemd-resolved's stub listener and the file listing its upstream
// servers (systemd-resolved.service(8)).
const (
	resolvedStub     = "127.0.0.53:53"
	resolvedUpstream = "/run/systemd/resolve/resolv.conf"
)

// upstreamFor maps the systemd-resolved stub to its first upstream
// server: resolved's own queries do not carry cvpn's mark, so a full block
// would stop them. Other addresses are returned as they are.
func upstreamFor(address string, readFile func(string) ([]byte, error)) string {
	if address != resolvedStub {
		return address
	}
	data, err := readFile(resolvedUpstream)
	if err != nil {
		return address
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || a.IsLoopback() {
			continue
		}
		return netip.AddrPortFrom(a.WithZone(""), 53).String()
	}
	return address
}

// markedResolver resolves the server's name on sockets carrying cvpn's
// mark, the only DNS a full block lets out.
func markedResolver(mark uint32) *net.Resolver {
	ctl := killswitch.MarkControl(mark)
	if ctl == nil {
		return nil
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		d := net.Dialer{Control: ctl}
		return d.DialContext(ctx, network, upstreamFor(address, os.ReadFile))
	}}
}

// startBlock deals with a block left by an earlier cvpn and, when this
// session wants one, holds it. It returns nil when the session does not
// block.
func (o *Options) startBlock(want, forced bool) (*killswitch.Block, killswitch.Firewall, error) {
	rec, err := killswitch.LoadRecord(o.BlockDir)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil && !want {
		return nil, nil, nil
	}
	fw := o.Firewall
	if fw == nil {
		if fw, err = killswitch.Open(o.Logger); err != nil {
			return nil, nil, err
		}
	}
	if rec != nil && rec.PID != os.Getpid() && platform.ProcessAlive(rec.PID) {
		if want {
			return nil, nil, fmt.Errorf("another cvpn (pid %d, profile %q) holds the block of traffic outside the tunnel; disconnect it first", rec.PID, rec.Profile)
		}
		return nil, nil, nil
	}
	if !want {
		// The block of a crashed cvpn; this connection does not block.
		l, err := killswitch.LiftRecorded(fw, o.BlockDir)
		if err != nil {
			return nil, nil, fmt.Errorf("lifting the block left by a previous cvpn run: %w", err)
		}
		o.Logger.Warn("lifted the block left by a previous cvpn run", "what", l.String())
		o.emit(clientapi.Event{Event: clientapi.EventUnblocked, Message: l.String()})
		return nil, nil, nil
	}
	name := o.Profile.Name
	uid := o.BlockUID
	if uid == 0 && os.Geteuid() != 0 {
		uid = os.Geteuid()
	}
	b, err := killswitch.Hold(fw, o.BlockDir, killswitch.Record{
		TunnelID: o.TunnelID, Profile: name, PID: os.Getpid(), UID: uid, Forced: forced,
		Rules: initialBlockRules(o.Profile),
	})
	if err != nil {
		return nil, nil, err
	}
	if rec != nil {
		o.Logger.Info("took over the block left by a previous cvpn run", "profile", rec.Profile, "pid", rec.PID)
	}
	r := b.Rules()
	o.emit(clientapi.Event{Event: clientapi.EventBlocked, Detail: string(r.Mode), Message: describeBlock(r, fw)})
	return b, fw, nil
}

// blockTunnelUp updates the block for a tunnel that came up, and again
// whenever the server changes its routes (PUSH_UPDATE): a switch between
// full and split tunnel, or new VPN prefixes of a split tunnel.
func (o *Options) blockTunnelUp(b *killswitch.Block, fw killswitch.Firewall, info client.TunnelInfo) {
	remotes := initialBlockRules(o.Profile).Remotes
	before := b.Rules()
	if err := b.Update(func(r *killswitch.Rules) { tunnelBlockRules(r, info, remotes) }); err != nil {
		o.Logger.Error("updating the block for the tunnel", "err", err)
		o.emit(clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
		return
	}
	if after := b.Rules(); after.Mode != before.Mode || after.Mode == killswitch.ModeSplit && !slices.Equal(after.VPN, before.VPN) {
		o.emit(clientapi.Event{Event: clientapi.EventBlocked, Detail: string(after.Mode), Message: describeBlock(after, fw)})
	}
}

// routesUpdated is the client's OnRoutesUpdated: route enforcement and
// the block (when held) follow the routes a PUSH_UPDATE changed.
func (o *Options) routesUpdated(follow *routesFollower, b *killswitch.Block, fw killswitch.Firewall) func(client.TunnelInfo) {
	return func(info client.TunnelInfo) {
		follow.routesUpdated(info)
		if b != nil {
			o.blockTunnelUp(b, fw, info)
		}
	}
}

// endBlock lifts the block after the user disconnected; after a fatal
// error it stays (the tunnel is down) and the user is told how to lift it.
func (o *Options) endBlock(b *killswitch.Block, userDisconnect bool) {
	if !userDisconnect && !b.Lifted() {
		msg := "traffic outside the tunnel stays blocked because the connection failed; run `cvpn unblock` to lift the block"
		if b.Record().Forced {
			msg = "traffic outside the tunnel stays blocked because the connection failed (forced by the administrator's policy; an administrator can lift it with `cvpn unblock`)"
		}
		o.emit(clientapi.Event{Event: clientapi.EventLog, Message: msg})
		return
	}
	if b.Lifted() {
		return
	}
	if err := b.Lift(); err != nil {
		o.Logger.Error("lifting the block", "err", err)
		o.emit(clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
		return
	}
	o.emit(clientapi.Event{Event: clientapi.EventUnblocked, Message: "removed the block of traffic outside the tunnel"})
}

func (o *Options) emit(e clientapi.Event) {
	if o.Events != nil {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		o.Events(e)
	}
}
