package gui

import (
	"context"
	"fmt"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// Offline is a Backend for when no daemon client is available: profiles
// work through the store, every connection request reports that the
// daemon at Socket is not reachable.
type Offline struct {
	StoreProfiles
	Socket string
}

var _ Backend = Offline{}

func (o Offline) err() error {
	return fmt.Errorf("%w (cannot reach it at %s)", ErrDaemonNotRunning, o.Socket)
}

// Connect implements Connections.
func (o Offline) Connect(context.Context, string, clientapi.Credentials) error { return o.err() }

// Disconnect implements Connections.
func (o Offline) Disconnect(context.Context, string) error { return o.err() }

// Status implements Connections.
func (o Offline) Status(context.Context) ([]ConnStatus, error) { return nil, o.err() }

// Events implements Connections.
func (o Offline) Events(context.Context) (<-chan ConnEvent, error) { return nil, o.err() }
