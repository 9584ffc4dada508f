package login1test

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvpn/cvpn/internal/testkit/nstest"
	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// logind's names.
const (
	Name           = "org.freedesktop.login1"
	ManagerPath    = dbus.ObjectPath("/org/freedesktop/login1")
	ManagerIface   = "org.freedesktop.login1.Manager"
	SessionIface   = "org.freedesktop.login1.Session"
	sessionPathFmt = "/org/freedesktop/login1/session/%s"
)

// Bus is a private dbus-daemon with a fake logind on it.
type Bus struct {
	// Addr is the bus address (unix:path=...).
	Addr string
	t    *testing.T
	conn *dbus.Conn

	mu       sync.Mutex
	sessions map[string]*session // by id
	byPID    map[uint32]string   // pid -> session id
}

type session struct {
	props *prop.Properties
}

// Start starts a dbus-daemon on a socket of its own and a fake logind on
// it; both stop (the daemon by PID) when the test ends.
func Start(t *testing.T) *Bus {
	t.Helper()
	nstest.RequireBinaries(t, "dbus-daemon")
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	var addr string
	select {
	case addr = <-line:
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon not ready within 10s")
	}
	if addr == "" {
		t.Fatal("dbus-daemon printed no address")
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b := &Bus{Addr: addr, t: t, conn: conn, sessions: map[string]*session{}, byPID: map[uint32]string{}}
	if err := conn.Export(manager{b}, ManagerPath, ManagerIface); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(Name, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake logind: RequestName: %v %v", reply, err)
	}
	return b
}

// PrepareForSleep emits logind's PrepareForSleep(sleeping).
func (b *Bus) PrepareForSleep(sleeping bool) {
	b.t.Helper()
	if err := b.conn.Emit(ManagerPath, ManagerIface+".PrepareForSleep", sleeping); err != nil {
		b.t.Fatal(err)
	}
}

// SessionPath is the object path of session id.
func SessionPath(id string) dbus.ObjectPath { return dbus.ObjectPath(fmt.Sprintf(sessionPathFmt, id)) }

// AddSession adds session id (Active and Remote as given) holding pids.
func (b *Bus) AddSession(id string, active, remote bool, pids ...int) {
	b.t.Helper()
	p, err := prop.Export(b.conn, SessionPath(id), prop.Map{SessionIface: {
		"Id":     {Value: id, Emit: prop.EmitTrue},
		"Active": {Value: active, Writable: true, Emit: prop.EmitTrue},
		"Remote": {Value: remote, Emit: prop.EmitTrue},
	}})
	if err != nil {
		b.t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions[id] = &session{props: p}
	for _, pid := range pids {
		b.byPID[uint32(pid)] = id
	}
}

// AddPID puts pid into session id (a process started later).
func (b *Bus) AddPID(id string, pid int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byPID[uint32(pid)] = id
}

// SetActive switches session id's Active property (a seat switch).
func (b *Bus) SetActive(id string, active bool) {
	b.t.Helper()
	b.mu.Lock()
	s := b.sessions[id]
	b.mu.Unlock()
	if s == nil {
		b.t.Fatalf("fake logind: no session %s", id)
	}
	s.props.SetMust(SessionIface, "Active", active)
}

// manager is the exported org.freedesktop.login1.Manager.
type manager struct{ b *Bus }

// GetSessionByPID answers like logind: the session object of pid, or the
// error org.freedesktop.login1.NoSessionForPID.
func (m manager) GetSessionByPID(pid uint32) (dbus.ObjectPath, *dbus.Error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	id, ok := m.b.byPID[pid]
	if !ok {
		return "", dbus.NewError("org.freedesktop.login1.NoSessionForPID", []any{fmt.Sprintf("PID %d does not belong to any known session", pid)})
	}
	return SessionPath(id), nil
}
