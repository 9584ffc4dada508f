package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/samlflow"
)

// Handler is the daemon side of the API: the connection manager. Errors it
// returns reach the front end; an *Error keeps its code, any other error
// is reported with CodeInternal.
type Handler interface {
	// Status lists the connections (every local user may ask).
	Status(peer Peer) []Status
	// Connect starts a connection named name from profile text on behalf
	// of fe (which owns it: its events, credential questions and end go
	// there). It returns once the connection is started or refused.
	Connect(ctx context.Context, fe FrontEnd, name, profileText string, bind bool) error
	// Disconnect ends the connection name, or every connection peer may
	// control when all is set, and returns the names ended.
	Disconnect(peer Peer, name string, all bool) ([]string, error)
	// Subscribe delivers every connection's events to fn until cancel is
	// called. fn must not block.
	Subscribe(fn func(name string, ev clientapi.Event)) (cancel func())
}

// ConnectOptions are a connect request's options beyond Bind.
type ConnectOptions struct {
	Bind bool
	// BlockWhenDown blocks traffic outside the tunnel while it is down.
	BlockWhenDown bool
	// NoReconnectAfterResume disconnects when the computer goes to sleep
	// instead of reconnecting after it wakes up (the profile setting
	// "Reconnect after the computer wakes up" off).
	NoReconnectAfterResume bool
}

// Blocker is implemented by handlers that can block traffic outside the
// tunnel (block_when_down).
type Blocker interface {
	// ConnectWith is Connect with options.
	ConnectWith(ctx context.Context, fe FrontEnd, name, profileText string, o ConnectOptions) error
	// Unblock lifts the blocks peer may lift and says what it removed.
	Unblock(peer Peer) (string, error)
}

// FrontEnd is one IPC connection as the Handler sees it.
type FrontEnd interface {
	// Peer is the user at the other end.
	Peer() Peer
	// Credentials asks this front end for the user name, password and
	// challenge answers of connection name.
	Credentials(name string) clientapi.Credentials
	// Event and Ended push a connection's events and end; they never block.
	Event(name string, ev clientapi.Event)
	Ended(name string, r Result)
	// Done is closed when the front end has gone.
	Done() <-chan struct{}
}

// Server serves the API on a Listener.
type Server struct {
	Handler Handler
	Logger  *slog.Logger
	// QueueSize is how many messages may wait for a slow front end before
	// it is disconnected; default 1024.
	QueueSize int
	// CredentialTimeout bounds one credential question; default 10 minutes.
	CredentialTimeout time.Duration
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Serve accepts connections until ctx ends, then closes l and every
// connection and returns after their goroutines have finished. It returns
// nil after ctx ended, else the accept error.
func (s *Server) Serve(ctx context.Context, l *Listener) error {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Go(func() {
		<-ctx.Done()
		l.Close()
	})
	for {
		c, peer, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.logger().Warn("ipc: refused a connection", "err", err)
			continue
		}
		sc := s.newConn(c, peer)
		wg.Go(func() { sc.serve(ctx) })
	}
}

// ServeConn serves one already accepted connection from peer until it
// closes or ctx ends (tests and socket activation use it).
func (s *Server) ServeConn(ctx context.Context, c net.Conn, peer Peer) {
	s.newConn(c, peer).serve(ctx)
}

func (s *Server) newConn(c net.Conn, peer Peer) *serverConn {
	q := s.QueueSize
	if q <= 0 {
		q = 1024
	}
	return &serverConn{
		srv:   s,
		c:     c,
		peer:  peer,
		out:   make(chan *Message, q),
		done:  make(chan struct{}),
		creds: make(map[uint64]chan *Message),
		log:   s.logger().With("peer", peer.String()),
	}
}

// serverConn is one front end connection.
type serverConn struct {
	srv  *Server
	c    net.Conn
	peer Peer
	log  *slog.Logger
	out  chan *Message
	done chan struct{}

	closeOnce  sync.Once
	subscribed atomic.Bool // events already arrive through the subscription

	mu       sync.Mutex
	creds    map[uint64]chan *Message
	nextCred uint64
	unsub    []func()
}

func (sc *serverConn) serve(ctx context.Context) {
	sc.log.Debug("ipc: front end connected")
	var wg sync.WaitGroup
	wg.Go(sc.writeLoop)
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-sc.done:
		}
		sc.close()
	})
	sc.readLoop(ctx)
	sc.close()
	wg.Wait()
	sc.mu.Lock()
	unsub := sc.unsub
	sc.unsub = nil
	sc.mu.Unlock()
	for _, u := range unsub {
		u()
	}
	sc.log.Debug("ipc: front end gone")
}

func (sc *serverConn) close() {
	sc.closeOnce.Do(func() {
		close(sc.done)
		sc.c.Close()
	})
}

func (sc *serverConn) writeLoop() {
	enc := encoder{w: sc.c}
	for {
		select {
		case <-sc.done:
			return
		case m := <-sc.out:
			sc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := enc.write(m); err != nil {
				sc.log.Debug("ipc: write failed", "err", err)
				sc.close()
				return
			}
		}
	}
}

// send queues m; a front end that lets its queue fill up is disconnected.
func (sc *serverConn) send(m *Message) {
	select {
	case <-sc.done:
		return
	default:
	}
	select {
	case sc.out <- m:
	default:
		sc.log.Warn("ipc: front end does not read its messages; disconnecting it")
		sc.close()
	}
}

func (sc *serverConn) readLoop(ctx context.Context) {
	dec := newDecoder(sc.c, sc.peer.String())
	for {
		m, err := dec.read()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				var id uint64
				if m != nil {
					id = m.ID
				}
				sc.log.Info("ipc: bad message", "err", err)
				sc.send(&Message{Type: TypeResponse, ID: id, Code: CodeBadRequest, Error: err.Error()})
				// Let the writer flush the error before closing.
				time.Sleep(50 * time.Millisecond)
			}
			return
		}
		sc.handle(ctx, m)
	}
}

func (sc *serverConn) respond(id uint64, r *Message, err error) {
	if r == nil {
		r = &Message{}
	}
	r.Type, r.ID = TypeResponse, id
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			r.Code, r.Error = e.Code, e.Message
		} else {
			r.Code, r.Error = CodeInternal, err.Error()
		}
	} else {
		r.OK = true
	}
	sc.send(r)
}

func (sc *serverConn) handle(ctx context.Context, m *Message) {
	h := sc.srv.Handler
	switch m.Type {
	case TypeStatus:
		sc.respond(m.ID, &Message{Connections: h.Status(sc.peer)}, nil)
	case TypeDesktopSession:
		dh, ok := h.(DesktopSessionHandler)
		if !ok {
			sc.respond(m.ID, nil, &Error{Code: CodeBadRequest, Message: "this daemon does not know desktop sessions"})
			return
		}
		d := dh.DesktopSession(ctx, sc.peer)
		sc.respond(m.ID, &Message{Desktop: &d}, nil)
	case TypeDiagnostics:
		dh, ok := h.(DiagnosticsHandler)
		if !ok {
			sc.respond(m.ID, nil, &Error{Code: CodeBadRequest, Message: "this daemon does not collect diagnostics"})
			return
		}
		d := dh.Diagnostics(sc.peer)
		sc.respond(m.ID, &Message{Diagnostics: &d}, nil)
	case TypeConnect:
		sc.log.Info("ipc: connect request", "name", m.Name, "bind", m.Bind, "block_when_down", m.BlockWhenDown, "no_reconnect_after_resume", m.NoReconnectAfterResume)
		var err error
		if b, ok := h.(Blocker); ok && (m.BlockWhenDown || m.NoReconnectAfterResume) {
			err = b.ConnectWith(ctx, sc, m.Name, m.Profile, ConnectOptions{Bind: m.Bind, BlockWhenDown: m.BlockWhenDown, NoReconnectAfterResume: m.NoReconnectAfterResume})
		} else if m.BlockWhenDown {
			err = &Error{Code: CodeBadRequest, Message: "this daemon cannot block traffic outside the tunnel"}
		} else {
			err = h.Connect(ctx, sc, m.Name, m.Profile, m.Bind)
		}
		sc.respond(m.ID, nil, err)
	case TypeUnblock:
		b, ok := h.(Blocker)
		if !ok {
			sc.respond(m.ID, nil, &Error{Code: CodeBadRequest, Message: "this daemon cannot block traffic outside the tunnel"})
			return
		}
		text, err := b.Unblock(sc.peer)
		sc.respond(m.ID, &Message{Text: text}, err)
	case TypeDisconnect:
		names, err := h.Disconnect(sc.peer, m.Name, m.All)
		sc.respond(m.ID, &Message{Names: names}, err)
	case TypeSubscribe:
		sc.mu.Lock()
		if len(sc.unsub) == 0 { // subscribing twice changes nothing
			sc.unsub = append(sc.unsub, h.Subscribe(func(name string, ev clientapi.Event) {
				sc.send(&Message{Type: TypeEvent, Name: name, Event: &ev})
			}))
		}
		sc.mu.Unlock()
		sc.subscribed.Store(true)
		sc.respond(m.ID, nil, nil)
	case TypeCredentialsAnswer:
		sc.mu.Lock()
		ch := sc.creds[m.CredID]
		delete(sc.creds, m.CredID)
		sc.mu.Unlock()
		if ch == nil {
			sc.log.Info("ipc: answer to no open credential question", "cred_id", m.CredID)
			return
		}
		ch <- m // buffered, one answer per question
	default:
		sc.respond(m.ID, nil, &Error{Code: CodeBadRequest, Message: fmt.Sprintf("unknown request type %q", m.Type)})
	}
}

// FrontEnd implementation.

func (sc *serverConn) Peer() Peer            { return sc.peer }
func (sc *serverConn) Done() <-chan struct{} { return sc.done }

func (sc *serverConn) Event(name string, ev clientapi.Event) {
	if sc.subscribed.Load() {
		return
	}
	sc.send(&Message{Type: TypeEvent, Name: name, Event: &ev})
}

func (sc *serverConn) Ended(name string, r Result) {
	sc.send(&Message{Type: TypeEnded, Name: name, Result: &r})
}

func (sc *serverConn) Credentials(name string) clientapi.Credentials {
	return ipcCredentials{sc: sc, name: name}
}

// ask sends a credential question and waits for its answer.
func (sc *serverConn) ask(ctx context.Context, q *Message) (*Message, error) {
	timeout := sc.srv.CredentialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch := make(chan *Message, 1)
	sc.mu.Lock()
	sc.nextCred++
	id := sc.nextCred
	sc.creds[id] = ch
	sc.mu.Unlock()
	defer func() {
		sc.mu.Lock()
		delete(sc.creds, id)
		sc.mu.Unlock()
	}()
	q.Type, q.CredID = TypeCredentials, id
	sc.send(q)
	select {
	case a := <-ch:
		if a.Error != "" {
			return nil, fmt.Errorf("the front end of %s gave no credentials: %s", sc.peer, a.Error)
		}
		return a, nil
	case <-sc.done:
		return nil, fmt.Errorf("the front end of %s that owns connection %s has gone; nobody can answer its credential questions", sc.peer, q.Name)
	case <-ctx.Done():
		return nil, fmt.Errorf("no credentials from the front end of %s: %w", sc.peer, ctx.Err())
	}
}

// ipcCredentials is clientapi.Credentials answered by the owning front end.
type ipcCredentials struct {
	sc   *serverConn
	name string
}

func (c ipcCredentials) UserPass(ctx context.Context, reason string) (string, string, error) {
	a, err := c.sc.ask(ctx, &Message{Name: c.name, Kind: KindUserPass, Reason: reason})
	if err != nil {
		return "", "", err
	}
	return a.User, a.Password, nil
}

func (c ipcCredentials) Challenge(ctx context.Context, text string, echo bool) (string, error) {
	a, err := c.sc.ask(ctx, &Message{Name: c.name, Kind: KindChallenge, Text: text, Echo: echo})
	if err != nil {
		return "", err
	}
	return a.Answer, nil
}

// SignIn makes ipcCredentials a clientapi.Federation: the owning front end
// opens the IdP URL as its (unprivileged) user, runs the loopback listener
// and answers with the SAMLResponse.
func (c ipcCredentials) SignIn(ctx context.Context, url string) (string, error) {
	a, err := c.sc.ask(ctx, &Message{Name: c.name, Kind: KindSAML, URL: url})
	if err != nil {
		return "", err
	}
	if a.Answer == "" {
		return "", fmt.Errorf("the front end of %s answered the sign-in of %s without a SAML response", c.sc.peer, c.name)
	}
	return a.Answer, nil
}

// ACSPort is the front end's listener port, always the standard one: the
// IdP is configured with http://127.0.0.1:35001.
func (c ipcCredentials) ACSPort() int { return samlflow.DefaultPort }

// OpenURL makes ipcCredentials a clientapi.WebAuth: the owning front end
// shows the sign-in page of the server's pending authentication as its
// (unprivileged) user; the daemon never opens a browser.
func (c ipcCredentials) OpenURL(ctx context.Context, url string) error {
	_, err := c.sc.ask(ctx, &Message{Name: c.name, Kind: KindWebAuth, URL: url})
	return err
}
