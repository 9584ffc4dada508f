package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// AdminRequest is one request on the admin socket (one JSON line).
type AdminRequest struct {
	Command      string `json:"command"` // "connections" | "terminate" | "push-update"
	ConnectionID string `json:"connection-id,omitempty"`
	// Options are push-update's options.
	Options []string `json:"options,omitempty"`
}

// AdminResponse is the answer (one JSON line).
type AdminResponse struct {
	Connections []ConnectionInfo `json:"connections,omitempty"`
	Terminated  string           `json:"terminated,omitempty"`
	Updated     string           `json:"updated,omitempty"`
	Error       string           `json:"error,omitempty"`
}

// serveAdmin listens on the admin unix socket (mode 0600). The returned
// function stops the accept loop, which ends after the request it is
// serving (bounded by its deadline and closed at once when the server's
// context ends), and removes the socket file; Run calls it on shutdown
// before waiting for the server's goroutines.
func (s *Server) serveAdmin(path string) (func() error, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin.socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin.socket: %s is in use by another server", path)
		}
		os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin.socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin.socket: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.handleAdmin(c)
		}
	}()
	return func() error {
		err := l.Close()
		os.Remove(path)
		return err
	}, nil
}

func (s *Server) handleAdmin(c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	defer stop()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var req AdminRequest
	var resp AdminResponse
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	switch {
	case err != nil:
		resp.Error = "malformed request: " + err.Error()
	case req.Command == "connections":
		resp.Connections = s.Connections()
		if resp.Connections == nil {
			resp.Connections = []ConnectionInfo{}
		}
	case req.Command == "terminate":
		if err := s.Terminate(req.ConnectionID); err != nil {
			resp.Error = err.Error()
		} else {
			resp.Terminated = req.ConnectionID
		}
	case req.Command == "push-update":
		if err := s.PushUpdate(req.ConnectionID, req.Options); err != nil {
			resp.Error = err.Error()
		} else {
			resp.Updated = req.ConnectionID
		}
	default:
		resp.Error = fmt.Sprintf("unknown command %q", req.Command)
	}
	b, _ := json.Marshal(resp)
	c.Write(append(b, '\n'))
}

// AdminCall sends one request to a running server's admin socket.
func AdminCall(ctx context.Context, socket string, req AdminRequest) (*AdminResponse, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w (is the server running?)", socket, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", socket, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", socket, err)
	}
	var resp AdminResponse
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("admin socket %s: malformed answer: %w", socket, err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
