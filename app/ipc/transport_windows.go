package ipc

import (
	"context"
	"errors"
	"net"
)

// DefaultSocketPath is the named pipe the daemon would listen on.
const DefaultSocketPath = `\\.\pipe\cvpn`

// ErrUnsupported: this build has no Windows transport (a named pipe with a
// restrictive ACL and client-token identification is planned); the CLI
// connects in the foreground as Administrator instead.
var ErrUnsupported = errors.New("ipc: the cvpn daemon is not available on Windows in this version; run cvpn connect as Administrator")

// Listener is the daemon's end of the transport.
type Listener struct{}

// Listen fails on Windows with ErrUnsupported.
func Listen(path string) (*Listener, error) { return nil, ErrUnsupported }

// Path is the pipe path.
func (l *Listener) Path() string { return DefaultSocketPath }

// Accept fails with ErrUnsupported.
func (l *Listener) Accept() (net.Conn, Peer, error) { return nil, Peer{}, ErrUnsupported }

// Close does nothing.
func (l *Listener) Close() error { return nil }

func dial(ctx context.Context, path string) (net.Conn, error) { return nil, ErrUnsupported }
