package platform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/platform/routesock"
	"github.com/cvpn/cvpn/routing"
)

// watchRcvBuf is the routing socket receive buffer asked for; an overflow
// makes read(2) fail with ENOBUFS, which forces a resync.
const watchRcvBuf = 4 << 20

// routeMsgs is what the reader goroutine passes on: messages, or an error
// (overflow or a failed socket).
type routeMsgs struct {
	msgs []routesock.Message
	err  error
}

// Watch implements Routes by reading the AF_ROUTE socket. Messages of
// failed requests (rtm_errno set), RTM_GET replies and cache entries
// (ARP/ND, cloned host routes) are dropped; RTM_ADD and RTM_CHANGE report
// routing.ChangeAdded, RTM_DELETE routing.ChangeDeleted. After an overflow
// it delivers a new snapshot; every ResyncInterval it does anyway.
func (h *darwinHost) Watch(ctx context.Context, fn func(RouteUpdate)) error {
	backoff := 50 * time.Millisecond
	for {
		err := h.watchOnce(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.log.Warn("route watch interrupted; reopening", "err", err)
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

func (h *darwinHost) watchOnce(ctx context.Context, fn func(RouteUpdate)) error {
	fd, err := routeSocket()
	if err != nil {
		return err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, watchRcvBuf)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("routing socket: %w", err)
	}
	// Through os.File the reads wait in Go's poller, and Close wakes them.
	f := os.NewFile(uintptr(fd), "route")
	ch := make(chan routeMsgs, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					return
				}
				select {
				case ch <- routeMsgs{err: err}:
				case <-ctx.Done():
					return
				}
				if !errors.Is(err, unix.ENOBUFS) {
					return
				}
				continue
			}
			msgs, perr := routesock.Parse(buf[:n])
			select {
			case ch <- routeMsgs{msgs: msgs, err: perr}:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		f.Close()
		<-done
	}()

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
	names := ifNames{}
	var pending []routing.Change
	deliver := func() {
		if len(pending) > 0 {
			fn(RouteUpdate{Changes: pending})
			pending = nil
			names = ifNames{}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case rm := <-ch:
			if rm.err != nil {
				deliver()
				if errors.Is(rm.err, unix.ENOBUFS) {
					h.log.Warn("routing socket overflow; resyncing")
					if err := snapshot(); err != nil {
						return err
					}
					continue
				}
				if len(rm.msgs) == 0 {
					return fmt.Errorf("route events: %w", rm.err)
				}
			}
			for i := range rm.msgs {
				ev, ok := routeEvent(&rm.msgs[i], names.name)
				if !ok {
					continue
				}
				if len(pending) == 0 {
					flush.Reset(h.coalesce)
				}
				pending = append(pending, ev)
			}
		case <-flush.C:
			deliver()
		case <-resync.C:
			deliver()
			if err := snapshot(); err != nil {
				return err
			}
		}
	}
}
