package client

import (
	"context"
	"fmt"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/datachannel"
	"github.com/cvpn/cvpn/ovpn/profile"
)

// pushRequestInterval is how often PUSH_REQUEST is repeated until answered.
const pushRequestInterval = 5 * time.Second

// pull sends PUSH_REQUEST until the server's PUSH_REPLY arrives.
func (l *link) pull(ctx context.Context) error {
	var acc ctrlmsg.PushAccumulator
	tick := time.NewTicker(pushRequestInterval)
	defer tick.Stop()
	if err := l.sendMessage(ctrlmsg.PushRequest{}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.fail:
			return err
		case <-tick.C:
			if err := l.sendMessage(ctrlmsg.PushRequest{}); err != nil {
				return err
			}
		case raw := <-l.msgs:
			m, err := ctrlmsg.Parse(raw)
			if err != nil {
				l.log.Warn("ignored malformed control message", "err", err)
				continue
			}
			switch m := m.(type) {
			case ctrlmsg.PushReply:
				done, err := acc.Add(m)
				if err != nil {
					return fmt.Errorf("%s: %w", l.peer, err)
				}
				if done {
					return l.applyPush(acc.Options())
				}
			case ctrlmsg.AuthFailed:
				return &authError{m, l.server}
			case ctrlmsg.AuthPending:
				l.onAuthPending(m)
			case ctrlmsg.Info:
				if handled, err := l.onPendingInfo(ctx, m); err != nil {
					return err
				} else if !handled {
					l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: m.String()})
				}
			case ctrlmsg.Restart:
				return fmt.Errorf("%s: server asked to restart: %s", l.peer, m.Reason)
			case ctrlmsg.Halt:
				return fmt.Errorf("%w: %s", clientapi.ErrHalted, m.Reason)
			default:
				l.log.Debug("ignored control message while waiting for the configuration", "msg", m.String())
			}
		}
	}
}

// applyPush interprets the pushed options.
func (l *link) applyPush(options []string) error {
	kept, ignored, err := ctrlmsg.ApplyPullFilters(options, pullFilters(l.prof))
	if err != nil {
		return fmt.Errorf("%s: pull-filter: %w", l.peer, err)
	}
	for _, o := range ignored {
		l.log.Info("pull-filter ignored a pushed option", "option", o)
	}
	po, err := ctrlmsg.ParsePushOptions(kept)
	if err != nil {
		return fmt.Errorf("%s: the server pushed an invalid configuration: %w", l.peer, err)
	}
	l.reportIgnored(po.Ignored, ignored)
	if n := len(po.Routes) + len(po.RoutesIPv6); n > maxPushedRoutes {
		return fmt.Errorf("%s: the server pushed %d routes; cvpn accepts at most %d (AWS allows 10 per endpoint by default)", l.peer, n, maxPushedRoutes)
	}
	if po.IfConfig == nil && po.IfConfigIPv6 == nil {
		return fmt.Errorf("%s: the server pushed no tunnel address (ifconfig)", l.peer)
	}
	name := po.Cipher
	if name == "" {
		name = l.prof.Cipher
	}
	if name == "" {
		name = "AES-256-GCM"
	}
	c, err := datachannel.ParseCipher(name)
	if err != nil {
		return fmt.Errorf("%s: pushed cipher: %w", l.peer, err)
	}
	l.cipher = c
	if !c.IsAEAD() {
		dg := l.prof.Digest
		if dg == "" {
			dg = "SHA1"
		}
		if l.auth, err = datachannel.ParseAuth(dg); err != nil {
			return fmt.Errorf("%s: %w", l.prof.Name, err)
		}
	}
	l.ekm = po.UsesEKM()
	l.epoch = po.ProtocolFlags.AEADEpoch
	if l.epoch && !c.IsAEAD() {
		return fmt.Errorf("%s: the server asks for epoch data keys (aead-epoch) with cipher %s, which is not an AEAD cipher", l.peer, c)
	}
	if po.PeerID >= 0 {
		l.dataV2 = true
		l.peerID = uint32(po.PeerID)
	}
	l.push = po
	return nil
}

// maxPushedRoutes bounds the routes a server may push: installing tens of
// thousands of routes takes minutes and no real endpoint needs them.
const maxPushedRoutes = 1024

// maxIgnoredEvents bounds the events listing ignored pushed options; a
// hostile server may push thousands.
const maxIgnoredEvents = 20

// reportIgnored logs every pushed option the client does not act on and
// tells the user about them in a bounded number of events.
func (l *link) reportIgnored(unknown, filtered []string) {
	for _, o := range unknown {
		l.log.Info("ignored pushed option", "option", redactOption(o))
	}
	type item struct{ opt, why string }
	var items []item
	for _, o := range unknown {
		if o != "tun-ipv6" { // obsolete no-op that 2.6 servers still push
			items = append(items, item{o, "not used by cvpn"})
		}
	}
	for _, o := range filtered {
		items = append(items, item{o, "removed by the profile's pull-filter"})
	}
	for i, it := range items {
		if i == maxIgnoredEvents {
			l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf("ignored %d more pushed options", len(items)-i)})
			return
		}
		l.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf("ignored pushed option %q (%s)", redactOption(it.opt), it.why)})
	}
}

// redactOption shortens a pushed option for display.
func redactOption(o string) string {
	if len(o) > 80 {
		return o[:80] + "…"
	}
	return o
}

func pullFilters(p *profile.Profile) []ctrlmsg.PullFilter {
	var out []ctrlmsg.PullFilter
	for _, f := range p.PullFilters {
		if r, err := ctrlmsg.ParsePullFilter(f.Action, f.Text); err == nil {
			out = append(out, r)
		}
	}
	return out
}
