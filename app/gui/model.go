package gui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cvpn/cvpn/ovpn/client"
)

// maxLogLines bounds each connection's in-memory log.
const maxLogLines = 5000

// connView is what the UI knows about one connection.
type connView struct {
	status ConnStatus
	log    []string
}

// model holds the UI state of every connection. It is only touched on the
// fyne main goroutine.
type model struct {
	conns map[string]*connView
}

func newModel() *model { return &model{conns: map[string]*connView{}} }

func (m *model) get(name string) *connView {
	c := m.conns[name]
	if c == nil {
		c = &connView{status: ConnStatus{Name: name, State: client.StateDisconnected}}
		m.conns[name] = c
	}
	return c
}

func (m *model) state(name string) client.State {
	if c := m.conns[name]; c != nil && c.status.State != "" {
		return c.status.State
	}
	return client.StateDisconnected
}

func (c *connView) addLog(t time.Time, line string) {
	c.log = append(c.log, t.Format("15:04:05")+"  "+line)
	if len(c.log) > maxLogLines {
		c.log = append([]string(nil), c.log[len(c.log)-maxLogLines:]...)
	}
}

// apply records an event and returns the previous state.
func (m *model) apply(ev ConnEvent) client.State {
	c := m.get(ev.Name)
	prev := c.status.State
	switch ev.Event.Event {
	case client.EventState:
		c.status.State = ev.State
		c.status.Detail = ev.Detail
		switch ev.State {
		case client.StateConnected:
			c.status.TunnelIPv4, c.status.TunnelIPv6 = ev.TunnelIPv4, ev.TunnelIPv6
			c.status.Interface, c.status.Server, c.status.Cipher = ev.Interface, ev.Server, ev.Cipher
			c.status.ConnectedSince = ev.Time
			c.status.LastError = ""
		case client.StateDisconnected:
			c.status.TunnelIPv4, c.status.TunnelIPv6, c.status.Interface, c.status.Cipher = "", "", "", ""
			c.status.ConnectedSince = time.Time{}
			c.status.BytesIn, c.status.BytesOut = 0, 0
		case client.StateResolving, client.StateConnecting:
			if prev == client.StateDisconnected || prev == "" {
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
	case client.EventError:
		c.status.LastError = ev.Message
		c.addLog(ev.Time, "error: "+ev.Message)
	case client.EventBanner:
		c.addLog(ev.Time, "banner: "+firstLine(ev.Text))
	case client.EventSAML:
		// The address carries no secret (the IdP's page with the
		// SAMLRequest); users paste it into a browser when none opens.
		c.addLog(ev.Time, "browser sign-in started: "+ev.URL)
	case client.EventRouteEnforced:
		c.addLog(ev.Time, fmt.Sprintf("route %s %s (client route enforcement)", ev.Route, ev.Action))
	case client.EventLog:
		c.addLog(ev.Time, ev.Message)
	default:
		c.addLog(ev.Time, ev.Event.Event+" "+ev.Message)
	}
	return prev
}

// repeatedError reports an error event that only repeats the error this
// connection already ended with (the daemon sends the session's error,
// then the end of the connection with the same reason).
func (m *model) repeatedError(ev ConnEvent) bool {
	if ev.Event.Event != client.EventError || ev.Message == "" {
		return false
	}
	c := m.conns[ev.Name]
	return c != nil && c.status.State == client.StateDisconnected && c.status.LastError != "" &&
		strings.Contains(ev.Message, c.status.LastError)
}

// applyStatus merges a status snapshot. Connections missing from the
// snapshot are disconnected.
func (m *model) applyStatus(list []ConnStatus) {
	seen := map[string]bool{}
	for _, s := range list {
		seen[s.Name] = true
		c := m.get(s.Name)
		if s.LastError == "" {
			s.LastError = c.status.LastError
		}
		c.status = s
	}
	for name, c := range m.conns {
		if !seen[name] && c.status.State != client.StateDisconnected {
			c.status = ConnStatus{Name: name, State: client.StateDisconnected, LastError: c.status.LastError}
		}
	}
}

// active lists the names of connections that are not disconnected, sorted.
func (m *model) active() []string {
	var out []string
	for name, c := range m.conns {
		if c.status.State != client.StateDisconnected && c.status.State != "" {
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
