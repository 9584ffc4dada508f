package platform

import "github.com/cvpn/cvpn/platform/routesock"

// routeEvent converts a routing socket message into an event.
func routeEvent(m *routesock.Message, name func(int) string) (RouteEvent, bool) {
	if m.Errno != 0 {
		return RouteEvent{}, false
	}
	var kind RouteEventKind
	switch m.Type {
	case routesock.TypeAdd, routesock.TypeChange:
		kind = RouteAdded
	case routesock.TypeDelete:
		kind = RouteDeleted
	default:
		return RouteEvent{}, false
	}
	r, ok := m.ToRoute(name)
	if !ok {
		return RouteEvent{}, false
	}
	return RouteEvent{Kind: kind, Route: r}, true
}
