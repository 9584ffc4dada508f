package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/routing"
)

// watchBuffer is the channel between netlink's reader and the coalescer,
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
	backoff := 50 * time.Millisecond
	for {
		err := l.watchOnce(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.log.Warn("route watch interrupted; resubscribing", "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// watchOnce runs one subscription until ctx is done (nil) or the stream
// fails (the error).
func (l *linuxHost) watchOnce(ctx context.Context, fn func(RouteUpdate)) error {
	ch := make(chan netlink.RouteUpdate, watchBuffer)
	done := make(chan struct{})
	errc := make(chan error, 1)
	opts := netlink.RouteSubscribeOptions{
		Namespace:         l.ns,
		ReceiveBufferSize: watchRcvBuf,
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	}
	if err := netlink.RouteSubscribeWithOptions(ch, done, opts); err != nil {
		return fmt.Errorf("subscribe to route events: %w", err)
	}
	defer func() {
		// Closing done closes the socket; netlink's reader then closes ch.
		close(done)
		for range ch {
		}
	}()

	snapshot := func() error {
		routes, err := l.List()
		if err != nil {
			return err
		}
		fn(ResyncUpdate(routes))
		return nil
	}
	if err := snapshot(); err != nil {
		return err
	}

	resync := time.NewTicker(l.resync)
	defer resync.Stop()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	names := &linkNames{h: l.h}
	var pending []routing.Change
	// Coalescing is trailing-edge only within a burst: the first event
	// after a quiet period (no delivery within the window) is delivered at
	// once, together with whatever is already queued, so that a lone
	// change costs no coalescing delay; further events within the window
	// are grouped and delivered when it ends.
	var lastDelivery time.Time
	deliver := func() {
		fn(RouteUpdate{Changes: pending})
		pending = nil
		names = &linkNames{h: l.h}
		lastDelivery = time.Now()
	}
	event := func(u netlink.RouteUpdate) {
		if u.Table != unix.RT_TABLE_MAIN {
			return
		}
		kind := routing.ChangeAdded
		if u.Type == unix.RTM_DELROUTE {
			kind = routing.ChangeDeleted
		}
		// Names are looked up fresh per batch: indexes may be reused.
		pending = append(pending, routing.Change{Kind: kind, Route: fromNetlink(&u.Route, names.name)})
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("route events: %w", err)
		case u, ok := <-ch:
			if !ok {
				select {
				case err := <-errc:
					return fmt.Errorf("route events: %w", err)
				default:
					return errors.New("route events: subscription closed")
				}
			}
			wasEmpty := len(pending) == 0
			event(u)
			if !wasEmpty || len(pending) == 0 {
				continue
			}
			if time.Since(lastDelivery) < l.coalesce {
				flush.Reset(l.coalesce)
				continue
			}
			// Quiet before: take what is queued already and deliver now.
		drain:
			for len(pending) < watchBuffer {
				select {
				case u, ok := <-ch:
					if !ok {
						break drain // reported by the next receive
					}
					event(u)
				default:
					break drain
				}
			}
			deliver()
		case <-flush.C:
			if len(pending) > 0 {
				deliver()
			}
		case <-resync.C:
			if len(pending) > 0 {
				deliver()
			}
			if err := snapshot(); err != nil {
				return err
			}
		}
	}
}
