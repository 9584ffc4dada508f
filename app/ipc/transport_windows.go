package ipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/ipc/namedpipe"
)

// DefaultSocketPath is the named pipe the daemon listens on unless
// CVPN_SOCKET says otherwise.
const DefaultSocketPath = `\\.\pipe\cvpn`

// handled is implemented by the connections of package namedpipe.
type handled interface {
	Handle() windows.Handle
}

// Listener accepts IPC connections on a named pipe together with the
// identity of the connecting process.
type Listener struct {
	l    net.Listener
	path string
}

// Listen creates the named pipe at path with PipeSDDL as its security
// descriptor. The pipe must not exist yet (namedpipe creates the first
// instance with FILE_CREATE, the FILE_FLAG_FIRST_PIPE_INSTANCE semantics):
// when it does, Listen says whether another cvpn daemon holds it or a pipe
// owned by someone else squats the name.
func Listen(path string) (*Listener, error) {
	sd, err := windows.SecurityDescriptorFromString(PipeSDDL())
	if err != nil {
		return nil, fmt.Errorf("ipc: pipe security descriptor: %w", err)
	}
	l, err := (&namedpipe.ListenConfig{SecurityDescriptor: sd}).Listen(path)
	if err != nil {
		if c, derr := namedpipe.DialTimeout(path, time.Second); derr == nil {
			owner, oerr := pipeOwner(c)
			c.Close()
			switch {
			case oerr != nil:
				return nil, fmt.Errorf("ipc: %s already exists and its owner cannot be read: %w", path, oerr)
			case trustedPipeOwner(owner):
				return nil, fmt.Errorf("ipc: another cvpn daemon is already listening on %s", path)
			default:
				return nil, fmt.Errorf("ipc: %s is already taken by a pipe owned by %s (not SYSTEM or Administrators); stop that program or set %s", path, owner, EnvSocket)
			}
		}
		return nil, fmt.Errorf("ipc: listen on %s: %w", path, err)
	}
	return &Listener{l: l, path: path}, nil
}

// Path is the pipe path.
func (l *Listener) Path() string { return l.path }

// Accept waits for the next connection and returns it with its peer: the
// user SID of the client process's token, its process id and whether it
// is an administrator (see tokenIsAdmin). A connection whose client cannot
// be identified is closed and reported as an error.
func (l *Listener) Accept() (net.Conn, Peer, error) {
	c, err := l.l.Accept()
	if err != nil {
		return nil, Peer{}, err
	}
	accepted := time.Now()
	h, ok := c.(handled)
	if !ok {
		c.Close()
		return nil, Peer{}, fmt.Errorf("ipc: %s: connection of type %T has no pipe handle", l.path, c)
	}
	p, err := pipeClient(h.Handle(), accepted)
	if err != nil {
		c.Close()
		return nil, Peer{}, fmt.Errorf("ipc: %s: identify the client: %w", l.path, err)
	}
	return c, p, nil
}

// Close stops listening.
func (l *Listener) Close() error { return l.l.Close() }

// pipeClient identifies the process at the client end of the server pipe
// handle h, accepted at time accepted. The namedpipe dialer connects with
// SECURITY_ANONYMOUS, so impersonation would only yield the anonymous
// token; the client's process token is read instead.
func pipeClient(h windows.Handle, accepted time.Time) (Peer, error) {
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil {
		return Peer{}, fmt.Errorf("GetNamedPipeClientProcessId: %w", err)
	}
	ph, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return Peer{}, fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(ph)
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(ph, &created, &exited, &kernel, &user); err != nil {
		return Peer{}, fmt.Errorf("process %d times: %w", pid, err)
	}
	if !clientProcessPlausible(time.Unix(0, created.Nanoseconds()), accepted) {
		return Peer{}, fmt.Errorf("process %d was created after the connection; the client exited and its id was reused", pid)
	}
	var tok windows.Token
	if err := windows.OpenProcessToken(ph, windows.TOKEN_QUERY, &tok); err != nil {
		return Peer{}, fmt.Errorf("token of process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return Peer{}, fmt.Errorf("user of process %d: %w", pid, err)
	}
	tg, err := tok.GetTokenGroups()
	if err != nil {
		return Peer{}, fmt.Errorf("groups of process %d: %w", pid, err)
	}
	var groups []tokenGroup
	for _, g := range tg.AllGroups() {
		groups = append(groups, tokenGroup{SID: g.Sid.String(), Attributes: g.Attributes})
	}
	sid := tu.User.Sid.String()
	return Peer{UID: -1, GID: -1, PID: int(pid), SID: sid, Admin: tokenIsAdmin(sid, groups)}, nil
}

// pipeOwner is the owner SID of the pipe at the other end of c.
func pipeOwner(c net.Conn) (string, error) {
	h, ok := c.(handled)
	if !ok {
		return "", fmt.Errorf("connection of type %T has no pipe handle", c)
	}
	sd, err := windows.GetSecurityInfo(h.Handle(), windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return "", err
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return "", err
	}
	return owner.String(), nil
}

// dial connects to the daemon pipe and checks that SYSTEM or the
// Administrators group owns it before anything is sent.
func dial(ctx context.Context, path string) (net.Conn, error) {
	c, err := namedpipe.DialContext(ctx, path)
	if err != nil {
		switch {
		case errors.Is(err, windows.ERROR_FILE_NOT_FOUND), errors.Is(err, windows.ERROR_PATH_NOT_FOUND):
			return nil, &NotRunningError{Path: path, Err: err}
		case errors.Is(err, windows.ERROR_ACCESS_DENIED):
			return nil, fmt.Errorf("ipc: no permission to connect to the cvpn daemon at %s", path)
		}
		return nil, fmt.Errorf("ipc: connect to the cvpn daemon at %s: %w", path, err)
	}
	owner, err := pipeOwner(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ipc: read the owner of %s: %w", path, err)
	}
	if !trustedPipeOwner(owner) {
		c.Close()
		return nil, fmt.Errorf("ipc: %s is owned by %s, not by SYSTEM or Administrators, so it is not the cvpn daemon; refusing to use it", path, owner)
	}
	return c, nil
}
