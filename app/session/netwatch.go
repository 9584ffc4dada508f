package session

import (
	"context"
	"log/slog"
	"sync"

	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/platform/netmon"
)

// watchNetwork runs a network monitor (platform/netmon) until ctx ends and
// passes its changes to the client (client.Config.NetChanges). The
// monitor ignores cvpn's own TUN devices. wg counts its goroutines.
// onSleep, when set, is called with the change's detail when the machine
// goes to sleep or (the only sign on some systems) has resumed; the
// change is then not passed on.
func watchNetwork(ctx context.Context, log *slog.Logger, wg *sync.WaitGroup, onSleep func(detail string)) (<-chan client.NetChange, error) {
	m, err := netmon.New(netmon.Options{Logger: log.With("component", "netmon")})
	if err != nil {
		return nil, err
	}
	out := make(chan client.NetChange)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			log.Warn("network monitor stopped; network changes are noticed at the next failed send", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-m.Changes():
				if onSleep != nil && (c.Sleeping || c.Resumed) {
					onSleep(c.Detail)
					continue
				}
				if c.Sleeping && !c.DefaultRoute && !c.Address && !c.Link && !c.Resumed {
					continue // nothing for the client: it notices the resume
				}
				nc := client.NetChange{Time: c.Time, DefaultRoute: c.DefaultRoute, Address: c.Address, Link: c.Link, Resumed: c.Resumed, Detail: c.Detail}
				select {
				case out <- nc: // the monitor merges what queues meanwhile
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
