package platform

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"

	"github.com/cvpn/cvpn/platform/windows/winroute"
	"github.com/cvpn/cvpn/routing"
)

// watchBuffer is the channel between the NotifyRouteChange2 callback and
// the coalescer; when it is full the callback drops the change and the
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
	ch := make(chan routeNote, watchBuffer)
	var overflow atomic.Bool
	cb, err := winipcfg.RegisterRouteChangeCallback(func(kind winipcfg.MibNotificationType, row *winipcfg.MibIPforwardRow2) {
		if kind == winipcfg.MibInitialNotification || row == nil {
			return
		}
		select {
		case ch <- routeNote{kind: kind, row: *row}:
		default:
			overflow.Store(true)
		}
	})
	if err != nil {
		return fmt.Errorf("platform: route change notification: %w", err)
	}
	defer cb.Unregister()

	snapshot := func() error {
		routes, err := h.List()
		if err != nil {
			return err
		}
		fn(ResyncUpdate(routes))
		return nil
	}
	if err := snapshot(); err != nil {
		return err
	}
	resync := time.NewTicker(h.resync)
	defer resync.Stop()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	var (
		pending []routing.Change
		names   ifNames
		loc     winroute.Locals
	)
	deliver := func() {
		if len(pending) > 0 {
			fn(RouteUpdate{Changes: pending})
			pending = nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-ch:
			if len(pending) == 0 {
				flush.Reset(h.coalesce)
				// Fresh names and local addresses per batch.
				names, loc = ifNames{}, locals()
			}
			kind := routing.ChangeAdded
			if n.kind == winipcfg.MibDeleteInstance {
				kind = routing.ChangeDeleted
			}
			pending = append(pending, routing.Change{Kind: kind, Route: h.convert(&n.row, names, loc)})
		case <-flush.C:
			deliver()
			if overflow.Swap(false) {
				h.log.Warn("route change buffer overflow; resyncing")
				if err := snapshot(); err != nil {
					return err
				}
			}
		case <-resync.C:
			deliver()
			overflow.Store(false)
			if err := snapshot(); err != nil {
				return err
			}
		}
	}
}
