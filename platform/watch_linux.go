package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
	"github.com/cvpn/cvpn/routing"
)

// watchBuffer is the channel between netlink's reader and the receiver,
// and watchRcvBuf the kernel socket buffer asked for; an overflow of the
// socket (ENOBUFS) ends the subscription and forces a resubscribe + resync.
const (
	watchBuffer = 4096
	watchRcvBuf = 4 << 20
)

// Watch implements Routes. It subscribes to IPv4 and IPv6 route events,
// then lists the main table (subscribing first, listing second loses no
// change; a change seen in both is reported twice, which callers comparing
// against the table tolerate). Events of other tables are dropped. After an
// error or overflow of the event stream it resubscribes and delivers a new
// snapshot; every ResyncInterval it delivers a snapshot anyway.
func (l *linuxHost) Watch(ctx context.Context, fn func(RouteUpdate)) error {
	return watchRoutes(ctx, l.log, l.coalesce, l.resync, l.subscribeRoutes, l.List, fn)
}

// routeReceiver is one netlink route subscription.
type routeReceiver struct {
	h    *netlink.Handle
	ch   chan netlink.RouteUpdate
	done chan struct{}
	errc chan error
	once sync.Once
}

func (l *linuxHost) subscribeRoutes() (watchloop.Receiver[routing.Change], error) {
	r := &routeReceiver{
		h: l.h, ch: make(chan netlink.RouteUpdate, watchBuffer),
		done: make(chan struct{}), errc: make(chan error, 1),
	}
	opts := netlink.RouteSubscribeOptions{
		Namespace:         l.ns,
		ReceiveBufferSize: watchRcvBuf,
		ErrorCallback: func(err error) {
			select {
			case r.errc <- err:
			default:
			}
		},
	}
	if err := netlink.RouteSubscribeWithOptions(r.ch, r.done, opts); err != nil {
		return nil, fmt.Errorf("subscribe to route events: %w", err)
	}
	return r, nil
}

// Receive returns the main-table changes queued, at least one; interface
// names are looked up fresh per call (indexes may be reused).
func (r *routeReceiver) Receive() ([]routing.Change, error) {
	for {
		var u netlink.RouteUpdate
		var ok bool
		select {
		case err := <-r.errc:
			return nil, fmt.Errorf("route events: %w", err)
		case u, ok = <-r.ch:
		}
		if !ok {
			select {
			case err := <-r.errc:
				return nil, fmt.Errorf("route events: %w", err)
			default:
				return nil, errors.New("route events: subscription closed")
			}
		}
		names := &linkNames{h: r.h}
		var out []routing.Change
		add := func(u *netlink.RouteUpdate) {
			if u.Table != unix.RT_TABLE_MAIN {
				return
			}
			kind := routing.ChangeAdded
			if u.Type == unix.RTM_DELROUTE {
				kind = routing.ChangeDeleted
			}
			out = append(out, routing.Change{Kind: kind, Route: fromNetlink(&u.Route, names.name)})
		}
		add(&u)
	drain:
		for len(out) < watchBuffer {
			select {
			case u, ok := <-r.ch:
				if !ok {
					break drain // reported by the next call
				}
				add(&u)
			default:
				break drain
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

// Close closes the socket; netlink's reader then closes ch, which is
// drained so the reader never blocks on it.
func (r *routeReceiver) Close() error {
	r.once.Do(func() {
		close(r.done)
		for range r.ch {
		}
	})
	return nil
}
