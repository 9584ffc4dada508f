package platform

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
	"github.com/cvpn/cvpn/platform/routesock"
	"github.com/cvpn/cvpn/routing"
)

// watchRcvBuf is the routing socket receive buffer asked for; an overflow
// makes read(2) fail with ENOBUFS, which forces a resync.
const watchRcvBuf = 4 << 20

// Watch implements Routes by reading the AF_ROUTE socket. Messages of
// failed requests (rtm_errno set), RTM_GET replies and cache entries
// (ARP/ND, cloned host routes) are dropped; RTM_ADD and RTM_CHANGE report
// routing.ChangeAdded, RTM_DELETE routing.ChangeDeleted. After an overflow
// it delivers a new snapshot; every ResyncInterval it does anyway.
func (h *darwinHost) Watch(ctx context.Context, fn func(RouteUpdate)) error {
	return watchRoutes(ctx, h.log, h.coalesce, h.resync, openRouteReceiver, h.List, fn)
}

// routeReceiver is one open routing socket. Reads go through os.File, so
// they wait in Go's poller and Close wakes them.
type routeReceiver struct {
	f   *os.File
	buf []byte
}

func openRouteReceiver() (watchloop.Receiver[routing.Change], error) {
	fd, err := routeSocket()
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, watchRcvBuf)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("routing socket: %w", err)
	}
	return &routeReceiver{f: os.NewFile(uintptr(fd), "route"), buf: make([]byte, 64<<10)}, nil
}

// Receive reads messages until one is a route change; interface names
// are looked up fresh per read.
func (r *routeReceiver) Receive() ([]routing.Change, error) {
	for {
		n, err := r.f.Read(r.buf)
		if errors.Is(err, unix.ENOBUFS) {
			return nil, fmt.Errorf("routing socket: %w", watchloop.ErrOverflow)
		}
		if err != nil {
			return nil, fmt.Errorf("route events: %w", err)
		}
		msgs, perr := routesock.Parse(r.buf[:n])
		if perr != nil && len(msgs) == 0 {
			return nil, fmt.Errorf("route events: %w", perr)
		}
		names := ifNames{}
		var out []routing.Change
		for i := range msgs {
			if ev, ok := routeEvent(&msgs[i], names.name); ok {
				out = append(out, ev)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
}

func (r *routeReceiver) Close() error { return r.f.Close() }
