package platform

import (
	"context"
	"log/slog"
	"time"

	"github.com/cvpn/cvpn/platform/internal/watchloop"
	"github.com/cvpn/cvpn/routing"
)

// watchRoutes is every OS's Watch: the one watch loop over the OS's route
// receiver. It delivers a snapshot of list first, after every
// resubscription and overflow and every resync; changes arriving within
// coalesce are grouped (a lone change after a quiet period goes at once).
func watchRoutes(ctx context.Context, log *slog.Logger, coalesce, resync time.Duration,
	open func() (watchloop.Receiver[routing.Change], error), list func() ([]routing.Route, error), fn func(RouteUpdate)) error {
	l := watchloop.Loop[routing.Change]{
		Name:   "route watch",
		Logger: log,
		Open:   open,
		Snapshot: func() error {
			routes, err := list()
			if err != nil {
				return err
			}
			fn(ResyncUpdate(routes))
			return nil
		},
		Deliver:  func(c []routing.Change) { fn(RouteUpdate{Changes: c}) },
		Coalesce: coalesce,
		Leading:  true,
		Resync:   resync,
	}
	return l.Run(ctx)
}
