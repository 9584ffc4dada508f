//go:build linux || darwin

package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Listener accepts IPC connections with the peer's credentials.
type Listener struct {
	l    *net.UnixListener
	path string
}

// Listen creates the socket at path: the parent directory is created 0755
// when missing, a stale socket left by a dead daemon is replaced, and the
// socket is made 0666 (every local user may connect; requests are
// authorized by peer credentials). It fails when a daemon already answers
// on path.
func Listen(path string) (*Listener, error) {
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("ipc: socket directory: %w", err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				return nil, fmt.Errorf("ipc: socket directory: %w", err)
			}
		}
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("ipc: %s exists and is not a socket; remove it or set %s", path, EnvSocket)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("ipc: another cvpn daemon is already listening on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("ipc: remove stale socket: %w", err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ipc: listen: %w", err)
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, fmt.Errorf("ipc: socket permissions: %w", err)
	}
	return &Listener{l: l, path: path}, nil
}

// Path is the socket path.
func (l *Listener) Path() string { return l.path }

// Accept waits for the next connection and returns it with its peer.
func (l *Listener) Accept() (net.Conn, Peer, error) {
	c, err := l.l.AcceptUnix()
	if err != nil {
		return nil, Peer{}, err
	}
	p, err := peerOf(c)
	if err != nil {
		c.Close()
		return nil, Peer{}, err
	}
	return c, p, nil
}

// Close stops listening and removes the socket.
func (l *Listener) Close() error { return l.l.Close() }

// dial connects to the daemon socket.
func dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, &NotRunningError{Path: path, Err: err}
		}
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("ipc: no permission to connect to the cvpn daemon at %s", path)
		}
		return nil, fmt.Errorf("ipc: connect to the cvpn daemon at %s: %w", path, err)
	}
	return c, nil
}

// rawCred runs fn with the socket's file descriptor.
func rawCred(c *net.UnixConn, fn func(fd uintptr) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return err
	}
	return ferr
}
