package platform

import (
	"github.com/cvpn/cvpn/platform/routesock"
	"github.com/cvpn/cvpn/routing"
)

// routeEvent converts a routing socket message into a route change.
func routeEvent(m *routesock.Message, name func(int) string) (routing.Change, bool) {
	if m.Errno != 0 {
		return routing.Change{}, false
	}
	var kind routing.ChangeKind
	switch m.Type {
	case routesock.TypeAdd, routesock.TypeChange:
		kind = routing.ChangeAdded
	case routesock.TypeDelete:
		kind = routing.ChangeDeleted
	default:
		return routing.Change{}, false
	}
	r, ok := m.ToRoute(name)
	if !ok {
		return routing.Change{}, false
	}
	return routing.Change{Kind: kind, Route: r}, true
}
