package client

import (
	"fmt"
	"strings"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
)

// onPushUpdate collects a PUSH_UPDATE (OpenVPN 2.7) and, once complete,
// applies it to the live tunnel: route and route-ipv6 replace the tunnel's
// routes. Options that cvpn cannot change on a live tunnel yet are named in
// a log event (optional ones quietly), and so are options no PUSH_UPDATE may
// change.
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
	l.mu.Lock()
	po := *l.push
	l.mu.Unlock()
	var routes []string
	var routes4, routes6 bool
	var refused []string
	for _, o := range opts {
		switch o.Name {
		case "route", "route-ipv6":
			routes4 = routes4 || o.Name == "route"
			routes6 = routes6 || o.Name == "route-ipv6"
			if !o.Remove {
				routes = append(routes, o.Name+" "+o.Args)
			}
		default:
			if !o.Optional {
				refused = append(refused, o.String())
			}
		}
	}
	if len(refused) > 0 {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf("the server updated options cvpn cannot change on a live tunnel (reconnect to apply them): %s", strings.Join(refused, ", "))})
	}
	if !routes4 && !routes6 {
		return
	}
	np, err := ctrlmsg.ParsePushOptions(routes)
	if err != nil {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: "refused the server's route update: " + err.Error()})
		return
	}
	if routes4 {
		po.Routes = np.Routes
	}
	if routes6 {
		po.RoutesIPv6 = np.RoutesIPv6
	}
	tc, err := tunnelConfig(c.cfg.Profile, &po, l.server.Addr(), c.cfg.TunnelID)
	if err != nil {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: "refused the server's route update: " + err.Error()})
		return
	}
	added, removed, err := c.live.UpdateRoutes(tc)
	if err != nil {
		c.cfg.emit(clientapi.Event{Event: clientapi.EventError, Message: "applying the server's route update: " + err.Error()})
		return
	}
	l.mu.Lock()
	l.push.Routes, l.push.RoutesIPv6 = po.Routes, po.RoutesIPv6
	l.mu.Unlock()
	c.liveInfo.Config.Routes, c.liveInfo.Config.NetGatewayRoutes = tc.Routes, tc.NetGatewayRoutes
	c.liveInfo.Config.RedirectIPv4, c.liveInfo.Config.RedirectIPv6 = tc.RedirectIPv4, tc.RedirectIPv6
	c.liveInfo.Push = &po
	if f := c.cfg.OnRoutesUpdated; f != nil {
		f(c.liveInfo)
	}
	c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: fmt.Sprintf("the server updated the routes: %d added, %d removed", len(added), len(removed))})
}
