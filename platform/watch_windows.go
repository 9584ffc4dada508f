package platform

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
	"github.com/cvpn/cvpn/routing"
)

// watchBuffer is the channel between the NotifyRouteChange2 callback and
// the receiver; when it is full the callback drops the change and the
// watcher resyncs.
const watchBuffer = 4096

type routeNote struct {
	kind winipcfg.MibNotificationType
	row  winipcfg.MibIPforwardRow2
}

// Watch implements Routes with NotifyRouteChange2 (winipcfg's route change
// callback). Additions and parameter changes report routing.ChangeAdded,
// deletions routing.ChangeDeleted. A full buffer forces a snapshot; every
// ResyncInterval one is delivered anyway.
func (h *windowsHost) Watch(ctx context.Context, fn func(RouteUpdate)) error {
	return watchRoutes(ctx, h.log, h.coalesce, h.resync, h.subscribeRoutes, h.List, fn)
}

// routeReceiver is one registered route change callback.
type routeReceiver struct {
	h        *windowsHost
	ch       chan routeNote
	overflow atomic.Bool
	cb       *winipcfg.RouteChangeCallback
	closed   chan struct{}
	once     sync.Once
}

func (h *windowsHost) subscribeRoutes() (watchloop.Receiver[routing.Change], error) {
	r := &routeReceiver{h: h, ch: make(chan routeNote, watchBuffer), closed: make(chan struct{})}
	cb, err := winipcfg.RegisterRouteChangeCallback(func(kind winipcfg.MibNotificationType, row *winipcfg.MibIPforwardRow2) {
		if kind == winipcfg.MibInitialNotification || row == nil {
			return
		}
		select {
		case r.ch <- routeNote{kind: kind, row: *row}:
		default:
			r.overflow.Store(true)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("platform: route change notification: %w", err)
	}
	r.cb = cb
	return r, nil
}

// Receive returns the changes queued, at least one, converted with fresh
// interface names and local addresses; after a dropped change it also
// returns ErrOverflow.
func (r *routeReceiver) Receive() ([]routing.Change, error) {
	var n routeNote
	select {
	case <-r.closed:
		return nil, errors.New("route events: closed")
	case n = <-r.ch:
	}
	names, loc := ifNames{}, locals()
	var out []routing.Change
	add := func(n *routeNote) {
		kind := routing.ChangeAdded
		if n.kind == winipcfg.MibDeleteInstance {
			kind = routing.ChangeDeleted
		}
		out = append(out, routing.Change{Kind: kind, Route: r.h.convert(&n.row, names, loc)})
	}
	add(&n)
drain:
	for len(out) < watchBuffer {
		select {
		case n := <-r.ch:
			add(&n)
		default:
			break drain
		}
	}
	if r.overflow.Swap(false) {
		return out, fmt.Errorf("route change buffer: %w", watchloop.ErrOverflow)
	}
	return out, nil
}

func (r *routeReceiver) Close() error {
	var err error
	r.once.Do(func() {
		err = r.cb.Unregister()
		close(r.closed)
	})
	return err
}
