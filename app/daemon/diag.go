package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cvpn/cvpn/app/diagnose"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// Limits of the daemon's part of a support bundle (one IPC message).
const (
	diagRecentEvents = 300
	diagLogFiles     = 10
	diagLogTail      = 256 << 10
	diagStateFile    = 64 << 10
	diagTotal        = 3 << 20
)

// recentEvent is one entry of the daemon's recent event stream.
type recentEvent struct {
	Name  string          `json:"name"`
	Owner string          `json:"owner"`
	Event clientapi.Event `json:"event"`
	owner ipc.Peer
}

// remember keeps ev in the recent event stream (log lines stay in the
// connection logs); m.mu is held.
func (m *Manager) remember(c *conn, ev clientapi.Event) {
	if ev.Event == clientapi.EventLog {
		return
	}
	if len(m.recent) >= diagRecentEvents {
		m.recent = append(m.recent[:0], m.recent[1:]...)
	}
	m.recent = append(m.recent, recentEvent{Name: c.name, Owner: c.owner.String(), Event: ev, owner: c.owner})
}

// Diagnostics implements ipc.DiagnosticsHandler: an administrator gets
// every connection's status, events, state files and logs; a user only
// their own. Everything is redacted with diagnose.Redact.
func (m *Manager) Diagnostics(peer ipc.Peer) ipc.Diagnostics {
	admin := m.cfg.Authorizer.IsAdmin(peer)
	mine := func(owner ipc.Peer) bool { return admin || peer.SameUser(owner) }
	d := ipc.Diagnostics{Admin: admin}
	size := 0
	add := func(name, text string) {
		text = diagnose.Redact(text)
		if size+len(text) > diagTotal {
			d.Notes = append(d.Notes, fmt.Sprintf("%s left out: the bundle reached its size limit", name))
			return
		}
		size += len(text)
		d.Files = append(d.Files, ipc.DiagFile{Name: name, Text: text})
	}

	var status []ipc.Status
	var names []string
	m.mu.Lock()
	owners := map[string]ipc.Peer{}
	for _, c := range m.conns {
		owners[c.name] = c.owner
	}
	var events []string
	for _, r := range m.recent {
		if mine(r.owner) {
			b, _ := json.Marshal(r)
			events = append(events, string(b))
		}
	}
	m.mu.Unlock()
	for _, s := range m.Status(peer) {
		if o, ok := owners[s.Name]; ok && mine(o) {
			status = append(status, s)
			names = append(names, s.Name)
		}
	}
	b, _ := json.MarshalIndent(status, "", "  ")
	add("daemon/status.json", string(b)+"\n")
	add("daemon/events.jsonl", strings.Join(events, "\n")+"\n")
	if !admin {
		d.Notes = append(d.Notes, "only your own connections are included (an administrator's bundle holds every connection)")
	}
	if nm := m.cfg.NetworkMonitor; nm != nil {
		var b strings.Builder
		for _, c := range nm.Recent() {
			fmt.Fprintf(&b, "%s default_route=%v address=%v link=%v resumed=%v sleeping=%v %s\n", c.Time.UTC().Format(time.RFC3339Nano),
				c.DefaultRoute, c.Address, c.Link, c.Resumed, c.Sleeping, c.Detail)
		}
		add(diagnose.NetworkMonitorFile, b.String())
	} else {
		d.Notes = append(d.Notes, "network monitor: the daemon runs none")
	}

	// Routes, DNS and the enforcement journal as applied, per connection.
	sort.Strings(names)
	for _, n := range names {
		dir := filepath.Join(m.sessionsDir(), n)
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), lockSuffix) {
				continue
			}
			if data, err := diagnose.ReadTail(filepath.Join(dir, e.Name()), diagStateFile); err == nil {
				add("daemon/sessions/"+n+"/"+e.Name(), data)
			}
		}
	}

	// The newest connection logs.
	logs, err := diagnose.NewestLogs(m.logsDir(), diagLogFiles)
	if err != nil {
		d.Notes = append(d.Notes, "connection logs: "+err.Error())
	}
	for _, p := range logs {
		data, err := diagnose.ReadTail(p, diagLogTail)
		if err != nil {
			d.Notes = append(d.Notes, "connection log "+filepath.Base(p)+": "+err.Error())
			continue
		}
		if !admin {
			data = ownSegments(data, peer)
		}
		if data != "" {
			add("daemon/logs/"+filepath.Base(p), data)
		}
	}
	return d
}

var ownerRe = regexp.MustCompile(`\bowner=(?:"([^"]*)"|(\S+))`)

// ownSegments keeps the parts of a connection log that belong to peer: a
// log file holds one segment per connect request, each starting with its
// "connect requested" line naming the owner.
func ownSegments(text string, peer ipc.Peer) string {
	var b strings.Builder
	keep := false
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.Contains(line, `msg="connect requested"`) {
			keep = false
			if sm := ownerRe.FindStringSubmatch(line); sm != nil {
				keep = ownerIs(sm[1]+sm[2], peer)
			}
		}
		if keep {
			b.WriteString(line)
		}
	}
	return b.String()
}

// ownerIs reports whether an ipc.Peer String() names peer.
func ownerIs(s string, peer ipc.Peer) bool {
	f := strings.Fields(s)
	if len(f) < 2 {
		return false
	}
	switch f[0] {
	case "uid":
		uid, err := strconv.Atoi(f[1])
		return err == nil && peer.SID == "" && uid == peer.UID
	case "user":
		return peer.SID != "" && f[1] == peer.SID
	}
	return false
}
