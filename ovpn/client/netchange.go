package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/cvpn/cvpn/internal/icmpecho"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/transport"
)

// NetChange is one change of the machine's network as a network monitor
// (platform/netmon) reports it: which of the default route, a local
// address or a link changed, or that the machine resumed from sleep.
type NetChange struct {
	Time                                 time.Time
	DefaultRoute, Address, Link, Resumed bool
	Detail                               string
}

// roamWindow is how long the client waits, after moving to a new network,
// for the server to answer from the new address before it reconnects.
const roamWindow = time.Second

// suspendGap is the tick gap (the supervisor ticks every 250 ms) beyond
// which the client assumes it was suspended (sleep, SIGSTOP) and checks
// that the server still answers, as after a resume.
const suspendGap = 3 * time.Second

// errReconnectNow ends a link so that Run reconnects at once: no backoff,
// no ping-restart wait, the same credentials (auth-token).
var errReconnectNow = errors.New("reconnecting at once")

// roam is the supervisor's state for network changes of one link.
type roam struct {
	local    netip.AddrPort // current local address of the transport
	probing  bool
	since    int64 // unix nanos the probe was sent
	deadline time.Time
	down     bool // no route to the server: waiting for the next change
	lastTick time.Time
	lastErr  time.Time // last send error acted on
}

func (c *Client) newRoam(l *link) *roam {
	return &roam{local: transport.LocalAddrPort(l.conn), lastTick: c.cfg.now()}
}

// onSendError treats a send that failed for want of the local address or
// route like a network change: at once when the system now prefers
// another local address for the server, else at most once a second.
func (c *Client) onSendError(l *link, dp *dataPath, r *roam, err error) error {
	now := c.cfg.now()
	if src, serr := c.source(l.server); (serr != nil || src == r.local.Addr()) && now.Sub(r.lastErr) < time.Second {
		return nil
	}
	r.lastErr = now
	return c.onNetChange(l, dp, r, NetChange{Time: now, Address: true, Detail: "sending failed: " + err.Error()})
}

// onNetChange reacts to a network change while connected. Over TCP it
// reconnects at once. Over UDP it keeps the session: the socket moves to
// the address the system now prefers for the server (the server floats
// the session by peer-id), and a probe must be answered within roamWindow,
// or the link is given up for an immediate reconnect.
func (c *Client) onNetChange(l *link, dp *dataPath, r *roam, ch NetChange) error {
	cfg := &c.cfg
	log := l.log
	ev := clientapi.Event{Event: clientapi.EventNetworkChanged, Detail: ch.Detail}
	if ch.Resumed {
		ev.Event = clientapi.EventResumed
	}
	cfg.emit(ev)
	log.Info("network changed", "detail", ch.Detail, "resumed", ch.Resumed)
	if l.conn.Reliable() {
		return fmt.Errorf("%s: %w: the network changed under a TCP connection", l.peer, errReconnectNow)
	}
	if c.refreshRoutes != nil && !ch.Resumed {
		// A new network: the host route to the server must go through
		// its gateway, not the old one's (full tunnels).
		if n, err := c.refreshRoutes(); err != nil {
			log.Info("server route not refreshed", "err", err)
		} else if n > 0 {
			log.Info("server route moved to the new network", "routes", n)
		}
	}
	src, err := c.source(l.server)
	if err != nil {
		// No route to the server: nothing to do until the next change.
		if !r.down {
			log.Info("no route to the server; waiting for the network", "err", err)
		}
		r.down, r.probing = true, false
		return nil
	}
	r.down = false
	// A new address or default route: send from what the system prefers
	// now, on a fresh port (NAT mappings of the old network are gone
	// anyway); the server floats the session on its first packet.
	if src != r.local.Addr() || ch.Address || ch.DefaultRoute {
		now, err := transport.Rebind(l.conn)
		if err != nil {
			return fmt.Errorf("%s: %w: moving to the new address %s: %v", l.peer, errReconnectNow, src, err)
		}
		log.Info("sending from a new address", "from", r.local.String(), "to", now.String())
		r.local = now
	}
	c.probe(l, dp, r)
	return nil
}

// probe sends a keepalive and an ICMP echo to the tunnel's gateway through
// the data channel: the keepalive moves the session on servers that float
// it, the echo makes the server answer at once.
func (c *Client) probe(l *link, dp *dataPath, r *roam) {
	now := c.cfg.now()
	r.probing, r.since, r.deadline = true, now.UnixNano(), now.Add(roamWindow)
	dp.sendPing()
	if src, dst, ok := echoEnds(l); ok {
		dp.sendPacket(icmpecho.Packet{Src: src, Dst: dst, Type: icmpecho.Request, ID: 0xC7A1, Seq: uint16(now.UnixNano()), Payload: []byte("cvpnroam")}.Marshal())
	}
}

// checkRoam runs on every supervisor tick: it notices a suspension (a gap
// between ticks: sleep, SIGSTOP) and ends a probe that went unanswered.
// After a suspension longer than ping-restart (restart) the server has
// likely dropped the session: it reconnects at once; after a shorter one
// a UDP link is probed like after a network change.
func (c *Client) checkRoam(l *link, dp *dataPath, r *roam, now time.Time, restart time.Duration) error {
	gap := now.Sub(r.lastTick)
	r.lastTick = now
	if gap >= suspendGap {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventResumed, Detail: fmt.Sprintf("the client did not run for %s", gap.Round(time.Second))})
		l.log.Info("the client was suspended", "gap", gap.Round(time.Millisecond))
		if restart > 0 && gap >= restart {
			return fmt.Errorf("%s: %w: the client was suspended for %s", l.peer, errReconnectNow, gap.Round(time.Second))
		}
		if !l.conn.Reliable() && !r.down {
			c.probe(l, dp, r)
		}
		return nil
	}
	if !r.probing {
		return nil
	}
	if l.lastRecv.Load() > r.since {
		r.probing = false
		l.log.Info("the server answers at the new address")
		return nil
	}
	if now.After(r.deadline) {
		r.probing = false
		return fmt.Errorf("%s: %w: no answer within %s after the network changed", l.peer, errReconnectNow, roamWindow)
	}
	return nil
}

// echoEnds are the tunnel address and the gateway an echo probe uses.
func echoEnds(l *link) (src, dst netip.Addr, ok bool) {
	po := l.push
	if po == nil {
		return
	}
	local, peer, ok := po.IfConfigPrefix()
	if !ok || !local.Addr().Is4() {
		return netip.Addr{}, netip.Addr{}, false
	}
	dst = peer
	if po.RouteGateway.IsValid() {
		dst = po.RouteGateway
	}
	if !dst.Is4() || dst == local.Addr() {
		return netip.Addr{}, netip.Addr{}, false
	}
	return local.Addr(), dst, true
}

// sendPacket seals one IP packet and sends it to the server.
func (d *dataPath) sendPacket(pkt []byte) {
	plain := pkt
	if d.comp != datachannel.CompressNone {
		plain = d.comp.Frame(nil, pkt)
	}
	out, err := d.l.keys.Seal(make([]byte, 0, len(plain)+256), plain)
	if err == nil {
		d.noteSendError(d.l.send(out))
	}
}

// source is the local address the system would use for server now; an
// error means no route (the network is down). Tests replace sourceFor.
func (c *Client) source(server netip.AddrPort) (netip.Addr, error) {
	if c.sourceFor != nil {
		return c.sourceFor(server)
	}
	return transport.SourceFor(server)
}

// noteSendError passes a send error that means "the local address or the
// route is gone" (the network changed under the socket) to the supervisor,
// without blocking: the link moves even before a network monitor says so.
func (d *dataPath) noteSendError(err error) {
	if err == nil || d.l.conn.Reliable() {
		return
	}
	if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENETUNREACH) {
		return
	}
	select {
	case d.sendErr <- err:
	default:
	}
}

// networkDown reports whether a monitor runs and the machine has no route
// to server (the last server address used; unknown counts as up).
func (c *Client) networkDown(server netip.AddrPort) bool {
	if c.cfg.NetChanges == nil || !server.IsValid() {
		return false
	}
	_, err := c.source(server)
	return err != nil
}

// waitRetry waits before the next connection attempt: d, cut short by a
// network change (the new network may work: try it at once). While the
// machine has no route to the server it waits for the network monitor
// only, without a timer: a client without a network does not spin.
func (c *Client) waitRetry(ctx context.Context, d time.Duration, server netip.AddrPort) {
	changes := c.cfg.NetChanges
	if c.networkDown(server) {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateReconnecting, Detail: "waiting for the network"})
		c.cfg.logger().Info("no route to the server; waiting for the network")
		for changes != nil && c.networkDown(server) {
			select {
			case <-ctx.Done():
				return
			case ch, ok := <-changes:
				if !ok {
					changes = nil // the monitor stopped: fall back to the timer
					continue
				}
				c.cfg.emit(clientapi.Event{Event: clientapi.EventNetworkChanged, Detail: ch.Detail})
			}
		}
		if changes != nil {
			return // the network is back: try at once
		}
	}
	c.cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateReconnecting, Detail: fmt.Sprintf("retrying in %s", d.Round(time.Millisecond))})
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case ch, ok := <-changes:
		if ok {
			c.cfg.emit(clientapi.Event{Event: clientapi.EventNetworkChanged, Detail: ch.Detail})
		}
	}
}
