package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"

	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// ClientOptions say where the daemon's pushed messages go. Every callback
// is called from the client's reader goroutine (Credentials from its own
// goroutine) and must not block for long; nil callbacks drop the messages.
type ClientOptions struct {
	// Events receives events of connections this client started, and of
	// every connection after Subscribe.
	Events func(name string, ev clientapi.Event)
	// Ended is called when a connection this client started has ended.
	Ended func(name string, r Result)
	// Credentials answers the daemon's questions for connection name; nil
	// (or a nil result) answers that no credentials are available.
	Credentials func(name string) clientapi.Credentials
	// Federation runs federated (SAML) sign-ins for connection name in
	// this front end's user session (browser + 127.0.0.1:35001 listener);
	// nil answers that this front end cannot. When it is also a
	// clientapi.WebAuth it shows the sign-in pages of OpenVPN servers'
	// pending authentications (WEB_AUTH / OPEN_URL) too.
	Federation func(name string) clientapi.Federation
	Logger     *slog.Logger
}

// Client is a front end's connection to the daemon. Its methods may be
// called from any goroutine.
type Client struct {
	c    net.Conn
	opts ClientOptions
	log  *slog.Logger

	wmu sync.Mutex // serializes writes
	enc encoder

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *Message
	err     error // why the connection ended, set before done closes

	done      chan struct{}
	ctx       context.Context // canceled by Close; bounds credential prompts
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Dial connects to the daemon at path (SocketPath() for the default). When
// nothing listens there the error is a *NotRunningError.
func Dial(ctx context.Context, path string, o ClientOptions) (*Client, error) {
	conn, err := dial(ctx, path)
	if err != nil {
		return nil, err
	}
	return NewClient(conn, o), nil
}

// NewClient runs the protocol over an established connection (tests use
// net.Pipe).
func NewClient(conn net.Conn, o ClientOptions) *Client {
	c := &Client{c: conn, opts: o, enc: encoder{w: conn}, pending: make(map[uint64]chan *Message), done: make(chan struct{})}
	c.log = o.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Go(c.readLoop)
	return c
}

// Close disconnects from the daemon (connections started with bind end)
// and waits for the client's goroutines.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.c.Close()
	})
	c.wg.Wait()
	return nil
}

// Done is closed when the connection to the daemon has ended; Err says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection to the daemon ended (nil while it is up).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) write(m *Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.enc.write(m)
}

func (c *Client) readLoop() {
	dec := newDecoder(c.c, "cvpn daemon")
	var err error
	for {
		var m *Message
		m, err = dec.read()
		if err != nil {
			break
		}
		c.dispatch(m)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		err = errors.New("the cvpn daemon closed the connection")
	}
	c.mu.Lock()
	c.err = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	close(c.done)
	c.cancel()
}

func (c *Client) dispatch(m *Message) {
	switch m.Type {
	case TypeResponse:
		c.mu.Lock()
		ch := c.pending[m.ID]
		delete(c.pending, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		} else if m.Error != "" {
			c.log.Warn("cvpn daemon error", "code", m.Code, "error", m.Error)
		}
	case TypeEvent:
		if m.Event != nil && c.opts.Events != nil {
			c.opts.Events(m.Name, *m.Event)
		}
	case TypeEnded:
		if m.Result != nil && c.opts.Ended != nil {
			c.opts.Ended(m.Name, *m.Result)
		}
	case TypeCredentials:
		c.wg.Go(func() { c.answer(m) })
	default:
		c.log.Debug("ignored a message from the daemon", "type", m.Type)
	}
}

// answer asks the user and sends the answer; errors travel as text.
func (c *Client) answer(q *Message) {
	a := &Message{Type: TypeCredentialsAnswer, CredID: q.CredID}
	var creds clientapi.Credentials
	if c.opts.Credentials != nil {
		creds = c.opts.Credentials(q.Name)
	}
	var err error
	switch {
	case q.Kind == KindSAML:
		a.Answer, err = c.signIn(q)
	case q.Kind == KindWebAuth:
		err = c.openURL(q)
	case creds == nil:
		err = errors.New("this front end has no way to ask for credentials")
	case q.Kind == KindUserPass:
		a.User, a.Password, err = creds.UserPass(c.ctx, q.Reason)
	case q.Kind == KindChallenge:
		a.Answer, err = creds.Challenge(c.ctx, q.Text, q.Echo)
	default:
		err = fmt.Errorf("unknown credential kind %q", q.Kind)
	}
	if err != nil {
		a = &Message{Type: TypeCredentialsAnswer, CredID: q.CredID, Error: err.Error()}
	}
	if werr := c.write(a); werr != nil {
		c.log.Debug("could not send credentials", "err", werr)
	}
}

// signIn answers a KindSAML question.
func (c *Client) signIn(q *Message) (string, error) {
	var fed clientapi.Federation
	if c.opts.Federation != nil {
		fed = c.opts.Federation(q.Name)
	}
	if fed == nil {
		return "", errors.New("this front end cannot run a browser sign-in")
	}
	if err := checkURL(q); err != nil {
		return "", err
	}
	return fed.SignIn(c.ctx, q.URL)
}

// checkURL refuses to open anything but an http(s) address.
func checkURL(q *Message) error {
	u, err := url.Parse(q.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("refusing to open the sign-in address of %s: not an http(s) URL", q.Name)
	}
	return nil
}

// openURL answers a KindWebAuth question: the Federation of the
// connection shows the server's sign-in page when it can (a
// clientapi.WebAuth).
func (c *Client) openURL(q *Message) error {
	var fed clientapi.Federation
	if c.opts.Federation != nil {
		fed = c.opts.Federation(q.Name)
	}
	wa, ok := fed.(clientapi.WebAuth)
	if !ok {
		return errors.New("this front end cannot open a sign-in page")
	}
	if err := checkURL(q); err != nil {
		return err
	}
	return wa.OpenURL(c.ctx, q.URL)
}

// call sends a request and waits for its response.
func (c *Client) call(ctx context.Context, m *Message) (*Message, error) {
	ch := make(chan *Message, 1)
	c.mu.Lock()
	if c.pending == nil {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.nextID++
	m.ID = c.nextID
	c.pending[m.ID] = ch
	c.mu.Unlock()
	if err := c.write(m); err != nil {
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, m.ID)
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("ipc: send %s request: %w", m.Type, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		if !r.OK {
			return r, &Error{Code: r.Code, Message: r.Error}
		}
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		if c.pending != nil {
			delete(c.pending, m.ID)
		}
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Status lists the daemon's connections.
func (c *Client) Status(ctx context.Context) ([]Status, error) {
	r, err := c.call(ctx, &Message{Type: TypeStatus})
	if err != nil {
		return nil, err
	}
	return r.Connections, nil
}

// Connect asks the daemon to connect with profile text (self-contained:
// every certificate and key inline) under name. It returns once the daemon
// has started the connection or refused it; events, credential questions
// and the end then arrive through ClientOptions. With bind the daemon
// disconnects it when this client goes away.
func (c *Client) Connect(ctx context.Context, name string, profileText []byte, bind bool) error {
	_, err := c.call(ctx, &Message{Type: TypeConnect, Name: name, Profile: string(profileText), Bind: bind})
	return err
}

// ConnectWith is Connect with options (block_when_down, no reconnect
// after a resume).
func (c *Client) ConnectWith(ctx context.Context, name string, profileText []byte, o ConnectOptions) error {
	_, err := c.call(ctx, &Message{Type: TypeConnect, Name: name, Profile: string(profileText), Bind: o.Bind, BlockWhenDown: o.BlockWhenDown,
		NoReconnectAfterResume: o.NoReconnectAfterResume})
	return err
}

// Unblock asks the daemon to lift the blocks of traffic outside the tunnel
// the caller may lift (its own; an administrator's: all) and returns what
// it removed.
func (c *Client) Unblock(ctx context.Context) (string, error) {
	r, err := c.call(ctx, &Message{Type: TypeUnblock})
	if err != nil {
		return "", err
	}
	return r.Text, nil
}

// Disconnect ends connection name, or with all every connection the caller
// may control, and returns the names of those ended.
func (c *Client) Disconnect(ctx context.Context, name string, all bool) ([]string, error) {
	r, err := c.call(ctx, &Message{Type: TypeDisconnect, Name: name, All: all})
	if err != nil {
		return nil, err
	}
	return r.Names, nil
}

// Subscribe makes the daemon push the events of every connection to
// ClientOptions.Events.
func (c *Client) Subscribe(ctx context.Context) error {
	_, err := c.call(ctx, &Message{Type: TypeSubscribe})
	return err
}
