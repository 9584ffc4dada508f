package netmon

import (
	"context"

	"github.com/godbus/dbus/v5"
)

// logind's sleep signal: PrepareForSleep(true) before suspend,
// PrepareForSleep(false) after resume.
const (
	login1Path      = "/org/freedesktop/login1"
	login1Manager   = "org.freedesktop.login1.Manager"
	prepareForSleep = login1Manager + ".PrepareForSleep"
)

// watchResume listens for logind's PrepareForSleep on the system bus (or
// Options.DBusAddress) until ctx is done. Without a bus or logind it logs
// why and returns; the clock-jump check still runs.
func (m *Monitor) watchResume(ctx context.Context) {
	if m.opts.NoLogind {
		return
	}
	var (
		conn *dbus.Conn
		err  error
	)
	if m.opts.DBusAddress == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.Connect(m.opts.DBusAddress, dbus.WithContext(ctx))
	}
	if err != nil {
		m.log.Debug("netmon: no system bus; resume detected by the clock only", "err", err)
		return
	}
	defer conn.Close()
	err = conn.AddMatchSignalContext(ctx,
		dbus.WithMatchObjectPath(login1Path), dbus.WithMatchInterface(login1Manager), dbus.WithMatchMember("PrepareForSleep"))
	if err != nil {
		m.log.Debug("netmon: cannot subscribe to logind; resume detected by the clock only", "err", err)
		return
	}
	sigs := make(chan *dbus.Signal, 8)
	conn.Signal(sigs)
	defer conn.RemoveSignal(sigs)
	m.log.Debug("netmon: listening for logind PrepareForSleep")
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-sigs:
			if !ok {
				m.log.Warn("netmon: system bus connection closed; resume detected by the clock only")
				return
			}
			if s.Name != prepareForSleep || s.Path != login1Path || len(s.Body) != 1 {
				continue
			}
			sleeping, ok := s.Body[0].(bool)
			if !ok {
				continue
			}
			if sleeping {
				m.send(ctx, event{kind: evSleep})
			} else {
				m.send(ctx, event{kind: evResume, detail: "resumed from sleep (logind)"})
			}
		}
	}
}
