package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	resolvedName  = "org.freedesktop.resolve1"
	resolvedPath  = "/org/freedesktop/resolve1"
	resolvedIface = "org.freedesktop.resolve1.Manager"
	busTimeout    = 5 * time.Second
)

// systemBusResolved is ResolvedBus over a private system bus connection.
type systemBusResolved struct {
	conn *dbus.Conn
}

func connectResolved() (*systemBusResolved, error) {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("system bus: %w", err)
	}
	return &systemBusResolved{conn: conn}, nil
}

func (b *systemBusResolved) Running() bool {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	var has bool
	err := b.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, resolvedName).Store(&has)
	return err == nil && has
}

func (b *systemBusResolved) Call(method string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	err := b.conn.Object(resolvedName, resolvedPath).CallWithContext(ctx, resolvedIface+"."+method, 0, args...).Err
	if err == nil {
		return nil
	}
	var de dbus.Error
	if errors.As(err, &de) && de.Name == resolvedName+".NoSuchLink" {
		return fmt.Errorf("%s: %w", de.Error(), ErrNotFound)
	}
	var pde *dbus.Error
	if errors.As(err, &pde) && pde.Name == resolvedName+".NoSuchLink" {
		return fmt.Errorf("%s: %w", pde.Error(), ErrNotFound)
	}
	return err
}

func (b *systemBusResolved) Close() error { return b.conn.Close() }
