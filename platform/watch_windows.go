package platform

import (
	"context"
	"fmt"
	"sync"

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
	h    *windowsHost
	q    *watchloop.Queue[routeNote]
	cb   *winipcfg.RouteChangeCallback
	once sync.Once
}

func (h *windowsHost) subscribeRoutes() (watchloop.Receiver[routing.Change], error) {
	r := &routeReceiver{h: h, q: watchloop.NewQueue[routeNote]("route change buffer", watchBuffer)}
	cb, err := winipcfg.RegisterRouteChangeCallback(func(kind winipcfg.MibNotificationType, row *winipcfg.MibIPforwardRow2) {
		if kind == winipcfg.MibInitialNotification || row == nil {
			return
		}
		r.q.Put(routeNote{kind: kind, row: *row})
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
	notes, err := r.q.Receive()
	if len(notes) == 0 {
		return nil, err
	}
	names, loc := ifNames{}, locals()
	out := make([]routing.Change, 0, len(notes))
	for i := range notes {
		kind := routing.ChangeAdded
		if notes[i].kind == winipcfg.MibDeleteInstance {
			kind = routing.ChangeDeleted
		}
		out = append(out, routing.Change{Kind: kind, Route: r.h.convert(&notes[i].row, names, loc)})
	}
	return out, err
}

func (r *routeReceiver) Close() error {
	var err error
	r.once.Do(func() {
		err = r.cb.Unregister()
		r.q.Close()
	})
	return err
}
