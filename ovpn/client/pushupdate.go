package client

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/platform"
)

// routeOptions are the updatable options that change the route set.
var routeOptions = []string{"route", "route-ipv6", "redirect-gateway", "route-gateway", "route-metric", "block-ipv6"}

// onPushUpdate collects a PUSH_UPDATE (OpenVPN 2.7) and, once complete,
// applies it to the live tunnel: each option it names replaces all earlier
// values of that option ("-name" removes them) and the tunnel follows
// (routes, DNS, addresses, MTU, keepalive timers; route enforcement and
// block-when-down through OnRoutesUpdated). An update that changes the
// topology is refused with an event: the tunnel's addresses mean something
// else under another topology. block-outside-dns is ignored quietly
// outside Windows, as OpenVPN does; on Windows it reaches the DNS
// configuration, whose WFP filters follow it.
func (c *Client) onPushUpdate(l *link, pu ctrlmsg.PushUpdate, err error) {
	if err != nil {
		c.update = nil
		l.log.Warn("refused PUSH_UPDATE", "err", err)
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: "refused the server's update: " + err.Error()})
		return
	}
	c.update = append(c.update, pu.Options...)
	if pu.More {
		return
	}
	opts := c.update
	c.update = nil
	if c.live == nil {
		return
	}
	refuse := func(why string) {
		l.log.Warn("refused PUSH_UPDATE", "reason", why)
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: "refused the server's update: " + why})
	}
	filters := pullFilters(c.cfg.Profile)
	var apply []ctrlmsg.UpdateOption
	names := map[string]bool{}
	for _, o := range opts {
		switch {
		case !ctrlmsg.Updatable(o.Name):
			continue // an optional option no update may change
		case o.Name == "block-outside-dns" && runtime.GOOS != "windows":
			continue
		}
		if len(filters) > 0 && !o.Remove {
			if kept, _, err := ctrlmsg.ApplyPullFilters([]string{o.Name + " " + o.Args}, filters); err != nil || len(kept) == 0 {
				l.log.Info("pull-filter ignored an updated option", "option", o.String())
				continue
			}
		}
		apply = append(apply, o)
		names[o.Name] = true
	}
	if len(apply) == 0 {
		return
	}
	l.mu.Lock()
	po := *l.push
	l.mu.Unlock()
	np, err := po.Updated(apply)
	if err != nil {
		refuse(err.Error())
		return
	}
	if topology(np.Topology) != topology(po.Topology) {
		refuse(fmt.Sprintf("it changes the topology from %s to %s, which cvpn cannot do on a live tunnel (reconnect to apply it)", topology(po.Topology), topology(np.Topology)))
		return
	}
	if np.IfConfig == nil && np.IfConfigIPv6 == nil {
		refuse("it leaves the tunnel without an address (ifconfig)")
		return
	}
	if n := len(np.Routes) + len(np.RoutesIPv6); n > maxPushedRoutes {
		refuse(fmt.Sprintf("it pushes %d routes; cvpn accepts at most %d", n, maxPushedRoutes))
		return
	}
	tc, err := tunnelConfig(c.cfg.Profile, np, l.server.Addr(), c.cfg.TunnelID)
	if err != nil {
		refuse(err.Error())
		return
	}
	res, err := c.live.Update(tc)
	if err != nil {
		l.log.Error("applying PUSH_UPDATE", "err", err)
		c.cfg.emit(clientapi.Event{Event: clientapi.EventError, Message: "applying the server's update: " + err.Error()})
		// What did change is in the platform's record and undone at
		// disconnect; the session keeps its earlier options.
		return
	}
	np.Ignored = po.Ignored
	l.mu.Lock()
	*l.push = *np
	l.mu.Unlock()
	tc.Prepared = nil
	c.liveInfo.Config = tc
	c.liveInfo.Push = np
	if names["keepalive"] {
		c.timersChanged = true
	}
	if res.MTU && c.setMTU != nil {
		c.setMTU(tc.MTU)
	}
	if f := c.cfg.OnRoutesUpdated; f != nil {
		f(c.liveInfo)
	}
	c.reportUpdate(names, res, tc, np)
}

// reportUpdate emits one log event per kind of change an update made.
func (c *Client) reportUpdate(names map[string]bool, res platform.UpdateResult, tc platform.TunnelConfig, np *ctrlmsg.PushOptions) {
	say := func(format string, args ...any) {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf(format, args...)})
	}
	if slices.ContainsFunc(routeOptions, func(n string) bool { return names[n] }) || len(res.Added)+len(res.Removed) > 0 {
		say("the server updated the routes: %d added, %d removed", len(res.Added), len(res.Removed))
	}
	if res.DNS {
		if tc.DNS == nil || len(tc.DNS.Servers) == 0 {
			say("the server updated DNS: the tunnel sets no DNS servers now (the original DNS is back)")
		} else {
			var s []string
			for _, a := range tc.DNS.Servers {
				s = append(s, a.String())
			}
			say("the server updated DNS: servers %s", strings.Join(s, " "))
		}
	}
	if names["block-outside-dns"] {
		switch {
		case !np.BlockOutsideDNS:
			say("the server turned block-outside-dns off: DNS may leave outside the tunnel again")
		case tc.DNS == nil || len(tc.DNS.Servers) == 0:
			say("the server turned block-outside-dns on, but the tunnel sets no DNS servers: cvpn blocks DNS outside the tunnel only while it sets the tunnel's DNS")
		default:
			say("the server turned block-outside-dns on: DNS leaves only through the tunnel")
		}
	}
	if res.MTU {
		say("the server changed the tunnel MTU to %d", tc.MTU)
	}
	if res.Addresses {
		var s []string
		for _, a := range tc.Addresses {
			s = append(s, a.Prefix.String())
		}
		say("the server changed the tunnel addresses to %s", strings.Join(s, " "))
	}
	if names["keepalive"] {
		say("the server changed the keepalive: ping %d s, ping-restart %d s (-1: the profile's)", np.Ping, np.PingRestart)
	}
}

// topology names a pushed topology; none pushed is OpenVPN's net30.
func topology(t string) string {
	if t == "" {
		return ctrlmsg.TopologyNet30
	}
	return t
}
