package daemon

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/godbus/dbus/v5"
)

// Logind answers Desktop from systemd-logind: the session of the peer's
// process (GetSessionByPID) must be Active and not Remote.
type Logind struct {
	// Address is the bus logind is on; empty for the system bus
	// (DBUS_SYSTEM_BUS_ADDRESS or the default socket).
	Address string
}

func osDesktop() Desktop { return Logind{} }

const (
	login1Name    = "org.freedesktop.login1"
	login1Path    = dbus.ObjectPath("/org/freedesktop/login1")
	login1Manager = "org.freedesktop.login1.Manager"
	login1Session = "org.freedesktop.login1.Session"
	noSessionErr  = "org.freedesktop.login1.NoSessionForPID"
)

// ActiveSession implements Desktop.
func (l Logind) ActiveSession(ctx context.Context, peer ipc.Peer) (bool, string, error) {
	if peer.PID <= 0 {
		return false, "", errors.New("the front end's process id is unknown")
	}
	var (
		conn *dbus.Conn
		err  error
	)
	if l.Address == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.Connect(l.Address, dbus.WithContext(ctx))
	}
	if err != nil {
		return false, "", fmt.Errorf("system bus: %w", err)
	}
	defer conn.Close()
	var sp dbus.ObjectPath
	err = conn.Object(login1Name, login1Path).CallWithContext(ctx, login1Manager+".GetSessionByPID", 0, uint32(peer.PID)).Store(&sp)
	if err != nil {
		var de dbus.Error
		if errors.As(err, &de) && de.Name == noSessionErr {
			return false, fmt.Sprintf("process %d is in no login session", peer.PID), nil
		}
		return false, "", fmt.Errorf("logind GetSessionByPID(%d): %w", peer.PID, err)
	}
	obj := conn.Object(login1Name, sp)
	prop := func(name string) (bool, error) {
		var v dbus.Variant
		if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, login1Session, name).Store(&v); err != nil {
			return false, fmt.Errorf("logind session %s property %s: %w", sp, name, err)
		}
		b, ok := v.Value().(bool)
		if !ok {
			return false, fmt.Errorf("logind session %s property %s is %s, not a boolean", sp, name, v.Signature())
		}
		return b, nil
	}
	active, err := prop("Active")
	if err != nil {
		return false, "", err
	}
	remote, err := prop("Remote")
	if err != nil {
		return false, "", err
	}
	id := path.Base(string(sp))
	switch {
	case remote:
		return false, fmt.Sprintf("session %s is remote", id), nil
	case !active:
		return false, fmt.Sprintf("session %s is not the active session of its seat", id), nil
	}
	return true, fmt.Sprintf("session %s is active", id), nil
}
