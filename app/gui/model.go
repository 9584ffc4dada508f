package gui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// maxLogLines bounds each connection's in-memory log.
const maxLogLines = 5000

// connView is what the UI knows about one connection.
type connView struct {
	status ConnStatus
	// remote is the profile remote ("host:port/proto") the connection
	// last tried, from its resolving and connecting events.
	remote string
	// requested is set while this app's connect request is on its way:
	// a status snapshot taken before the daemon had it does not end it.
	requested bool
	// requestSeq is the UI's request counter when this app last asked to
	// connect it: a status snapshot asked for before that (older than the
	// request, applied after it) does not end it either.
	requestSeq uint64
	log        []string
	// blocked is set while the connection blocks traffic outside the
	// tunnel (blocked event until unblocked).
	blocked bool
}

// model holds the UI state of every connection. It is only touched on the
// fyne main goroutine.
type model struct {
	conns map[string]*connView
	// serviceDown is set while the cvpn service cannot be reached.
	serviceDown bool
}

// Log lines and the error shown when the connection to the service is lost.
const (
	logServiceLost = "the connection to the cvpn service was lost: the state of this connection is unknown " +
		"(the service closes its tunnels when it stops); waiting for the service to come back"
	logServiceBackGone  = "the cvpn service is back: this connection is no longer open"
	errEndedServiceDown = "the connection ended: the cvpn service stopped"
)

func newModel() *model { return &model{conns: map[string]*connView{}} }

func (m *model) get(name string) *connView {
	c := m.conns[name]
	if c == nil {
		c = &connView{status: ConnStatus{Name: name, State: clientapi.StateDisconnected}}
		m.conns[name] = c
	}
	return c
}

func (m *model) state(name string) clientapi.State {
	if c := m.conns[name]; c != nil && c.status.State != "" {
		return c.status.State
	}
	return clientapi.StateDisconnected
}

func (c *connView) addLog(t time.Time, line string) {
	c.log = append(c.log, t.Format("15:04:05")+"  "+line)
	if len(c.log) > maxLogLines {
		c.log = append([]string(nil), c.log[len(c.log)-maxLogLines:]...)
	}
}

// apply records an event and returns the previous state.
func (m *model) apply(ev ConnEvent) clientapi.State {
	c := m.get(ev.Name)
	prev := c.status.State
	switch ev.Event.Event {
	case clientapi.EventState:
		if ev.State == clientapi.StateDisconnected && prev == clientapi.StateDisconnected {
			// The end of a connection arrives both as the session's last
			// state and as the daemon's "ended" message: say it once.
			return prev
		}
		if (ev.State == clientapi.StateResolving || ev.State == clientapi.StateConnecting) && ev.Detail != "" {
			c.remote = ev.Detail
		}
		c.status.State = ev.State
		c.status.Detail = ev.Detail
		switch ev.State {
		case clientapi.StateConnected:
			c.status.TunnelIPv4, c.status.TunnelIPv6 = ev.TunnelIPv4, ev.TunnelIPv6
			c.status.Interface, c.status.Server, c.status.Cipher = ev.Interface, ev.Server, ev.Cipher
			c.status.ConnectedSince = ev.Time
			c.status.LastError = ""
		case clientapi.StateDisconnected:
			c.status.TunnelIPv4, c.status.TunnelIPv6, c.status.Interface, c.status.Cipher = "", "", "", ""
			c.status.ConnectedSince = time.Time{}
			c.status.BytesIn, c.status.BytesOut = 0, 0
		case clientapi.StateResolving, clientapi.StateConnecting:
			if prev == clientapi.StateDisconnected || prev == "" {
				c.status.LastError = ""
			}
		}
		line := "state " + string(ev.State)
		if ev.Server != "" {
			line += " server " + ev.Server
		}
		if ev.TunnelIPv4 != "" {
			line += " ipv4 " + ev.TunnelIPv4
		}
		if ev.TunnelIPv6 != "" {
			line += " ipv6 " + ev.TunnelIPv6
		}
		if ev.Detail != "" {
			line += " (" + ev.Detail + ")"
		}
		c.addLog(ev.Time, line)
	case clientapi.EventError:
		c.status.LastError = ev.Message
		c.addLog(ev.Time, "error: "+ev.Message)
	case clientapi.EventBanner:
		c.addLog(ev.Time, "banner: "+firstLine(ev.Text))
	case clientapi.EventSAML:
		// The address carries no secret (the IdP's page with the
		// SAMLRequest); users paste it into a browser when none opens.
		c.addLog(ev.Time, "browser sign-in started: "+ev.URL)
	case clientapi.EventRouteEnforced:
		c.addLog(ev.Time, fmt.Sprintf("route %s %s (client route enforcement)", ev.Route, ev.Action))
	case clientapi.EventLog:
		c.addLog(ev.Time, ev.Message)
	case clientapi.EventBlocked:
		c.blocked = true
		c.addLog(ev.Time, "blocking: "+ev.Message)
	case clientapi.EventUnblocked:
		c.blocked = false
		c.addLog(ev.Time, "unblocked: "+ev.Message)
	default:
		c.addLog(ev.Time, ev.Event.Event+" "+ev.Message)
	}
	return prev
}

// repeatedError reports an error event that only repeats the error this
// connection already ended with (the daemon sends the session's error,
// then the end of the connection with the same reason).
func (m *model) repeatedError(ev ConnEvent) bool {
	if ev.Event.Event != clientapi.EventError || ev.Message == "" {
		return false
	}
	c := m.conns[ev.Name]
	return c != nil && c.status.State == clientapi.StateDisconnected && c.status.LastError != "" &&
		strings.Contains(ev.Message, c.status.LastError)
}

// applyStatus merges a status snapshot taken at t. Connections missing
// from the snapshot are disconnected (logged once: the session's own
// disconnected event, when it comes later, is not logged again) and
// returned; connections whose state was unknown get a log line saying
// what became of them.
//
// asked is the UI's request counter when the snapshot was asked for:
// connections this app asked to connect after that are not ended by it.
func (m *model) applyStatus(t time.Time, asked uint64, list []ConnStatus) (ended []string) {
	seen := map[string]bool{}
	for _, s := range list {
		seen[s.Name] = true
		c := m.get(s.Name)
		if s.LastError == "" {
			s.LastError = c.status.LastError
		}
		if c.status.State == StateUnknown {
			c.addLog(t, "the cvpn service is back: state "+string(s.State))
		}
		c.status = s
	}
	for name, c := range m.conns {
		switch {
		case seen[name] || c.status.State == clientapi.StateDisconnected || c.requested || c.requestSeq > asked:
		case c.status.State == StateUnknown:
			c.addLog(t, logServiceBackGone)
			c.status = ConnStatus{Name: name, State: clientapi.StateDisconnected, LastError: errEndedServiceDown}
		default:
			c.status = ConnStatus{Name: name, State: clientapi.StateDisconnected, LastError: c.status.LastError}
			c.addLog(t, "state disconnected")
			ended = append(ended, name)
		}
	}
	sort.Strings(ended)
	return ended
}

// serviceLost marks every connection that is not disconnected as unknown
// (no addresses, no duration, no traffic), logs it, and returns their
// names, sorted.
func (m *model) serviceLost(t time.Time) []string {
	m.serviceDown = true
	var out []string
	for name, c := range m.conns {
		if Idle(c.status.State) {
			continue
		}
		c.status = ConnStatus{Name: name, State: StateUnknown, Server: c.status.Server, LastError: c.status.LastError}
		c.addLog(t, logServiceLost)
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// active lists the names of connections that are up or on their way up or
// down, sorted; disconnected and unknown ones are not active.
func (m *model) active() []string {
	var out []string
	for name, c := range m.conns {
		if !Idle(c.status.State) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// unknown lists the names of connections whose state is unknown, sorted.
func (m *model) unknown() []string {
	var out []string
	for name, c := range m.conns {
		if c.status.State == StateUnknown {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
