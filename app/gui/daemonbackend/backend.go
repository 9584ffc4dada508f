package daemonbackend

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/samlflow/signin"
)

// Backend is gui.Backend over the daemon.
type Backend struct {
	gui.StoreProfiles
	// Socket is the daemon socket; ipc.SocketPath() when empty.
	Socket string
	Logger *slog.Logger
	// SignIn is the template of every browser sign-in the daemon asks
	// this app for (Port, Timeout, Opener, NoBrowser; zero values are the
	// defaults). Logger is the Backend's.
	SignIn signin.Browser
	// BlockWhenDown, when set, says whether profile name blocks traffic
	// outside the tunnel while it is down (the GUI's per-profile switch,
	// gui.PrefBlockWhenDown).
	BlockWhenDown func(name string) bool
	// dial replaces ipc.Dial in tests.
	dial func(ctx context.Context, path string, o ipc.ClientOptions) (*ipc.Client, error)

	mu      sync.Mutex
	cl      *ipc.Client
	events  chan gui.ConnEvent
	creds   map[string]clientapi.Credentials
	signins map[string]*signInRun // running browser sign-ins by connection
	reauth  reauthGates           // sign-ins waiting for "Sign in again" (reauth.go)
	closed  bool
	wg      sync.WaitGroup // the goroutine that closes events
}

// notRunning is ipc's "not running" error that also matches
// gui.ErrDaemonNotRunning, with ipc's message once.
type notRunning struct{ err error }

func (e notRunning) Error() string   { return e.err.Error() }
func (e notRunning) Unwrap() []error { return []error{gui.ErrDaemonNotRunning, e.err} }

// Close ends the connection to the daemon and waits for the backend's
// goroutine; later calls fail.
func (b *Backend) Close() error {
	b.mu.Lock()
	cl := b.cl
	b.cl, b.closed = nil, true
	b.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
	b.wg.Wait()
	return nil
}

var _ gui.Backend = (*Backend)(nil)

func (b *Backend) socket() string {
	if b.Socket != "" {
		return b.Socket
	}
	return ipc.SocketPath()
}

// client returns the live IPC client, dialing when needed.
func (b *Backend) client(ctx context.Context) (*ipc.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("the daemon backend is closed")
	}
	if b.cl != nil {
		select {
		case <-b.cl.Done():
			b.cl = nil
		default:
			return b.cl, nil
		}
	}
	dial := b.dial
	if dial == nil {
		dial = ipc.Dial
	}
	if b.creds == nil {
		b.creds = map[string]clientapi.Credentials{}
	}
	events := make(chan gui.ConnEvent, 256)
	cl, err := dial(ctx, b.socket(), ipc.ClientOptions{
		Events: func(name string, ev clientapi.Event) {
			// Armed here, on the IPC reader, before the daemon's sign-in
			// question that follows the event can be answered.
			if ev.Event == clientapi.EventReauthRequired {
				b.reauth.arm(name)
			}
			select {
			case events <- gui.ConnEvent{Name: name, Event: ev}:
			default: // the UI also polls status; never block the IPC reader
			}
		},
		Ended: func(name string, r ipc.Result) {
			b.reauth.drop(name)
			// A sign-in still waiting for "Sign in again" is for nothing now.
			b.abandonSignIn(name)
			// The session's own last state (disconnected) arrives too; the
			// UI shows a repeated disconnected state once.
			ev := clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected}
			if !r.Requested {
				ev = clientapi.Event{Event: clientapi.EventError, Message: r.Reason}
			}
			select {
			case events <- gui.ConnEvent{Name: name, Event: ev}:
			default:
			}
		},
		Credentials: func(name string) clientapi.Credentials {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.creds[name]
		},
		// The daemon never opens a browser: the app runs the 127.0.0.1:35001
		// listener and the browser as the signed-in user.
		Federation: func(name string) clientapi.Federation { return &federation{b: b, name: name} },
		Logger:     b.Logger,
	})
	if err != nil {
		if ipc.IsNotRunning(err) {
			return nil, notRunning{err}
		}
		return nil, err
	}
	b.cl = cl
	b.events = events
	b.wg.Go(func() {
		<-cl.Done()
		close(events)
	})
	return cl, nil
}

// Connect asks the daemon to connect the stored profile name; the daemon's
// questions for it are answered through creds.
func (b *Backend) Connect(ctx context.Context, name string, creds clientapi.Credentials) error {
	text, err := b.StoreProfiles.Read(name) // nil for a system profile: the daemon reads it
	if err != nil {
		return err
	}
	cl, err := b.client(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.creds[name] = creds
	b.mu.Unlock()
	o := ipc.ConnectOptions{BlockWhenDown: b.BlockWhenDown != nil && b.BlockWhenDown(name)}
	// "Reconnect after the computer wakes up" (the profile's settings,
	// kept in this user's store): the daemon (root) is told with the
	// request, as it cannot read the user's settings.
	if st, err := b.Settings(name); err == nil && !st.ReconnectAfterResume {
		o.NoReconnectAfterResume = true
	}
	if o != (ipc.ConnectOptions{}) {
		return cl.ConnectWith(ctx, name, text, o)
	}
	return cl.Connect(ctx, name, text, false)
}

// ActiveDesktopSession asks the daemon whether this app runs in the
// active desktop session (gui.DesktopSession).
func (b *Backend) ActiveDesktopSession(ctx context.Context) (bool, string, error) {
	cl, err := b.client(ctx)
	if err != nil {
		return false, "", err
	}
	d, err := cl.DesktopSession(ctx)
	return d.Active, d.Reason, err
}

// Unblock asks the daemon to lift the blocks of traffic outside the tunnel
// the user may lift (gui.Unblocker).
func (b *Backend) Unblock(ctx context.Context) (string, error) {
	cl, err := b.client(ctx)
	if err != nil {
		return "", err
	}
	return cl.Unblock(ctx)
}

// Disconnect asks the daemon to disconnect name and ends its browser
// sign-in, if one runs, which frees 127.0.0.1:35001 at once.
func (b *Backend) Disconnect(ctx context.Context, name string) error {
	// After the daemon's answer: the session then ends as requested
	// rather than with the cancelled sign-in as its error.
	defer b.cancelSignIn(name)
	cl, err := b.client(ctx)
	if err != nil {
		return err
	}
	_, err = cl.Disconnect(ctx, name, false)
	return err
}

// Status lists the daemon's connections.
func (b *Backend) Status(ctx context.Context) ([]gui.ConnStatus, error) {
	cl, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]gui.ConnStatus, 0, len(st))
	for _, s := range st {
		out = append(out, gui.ConnStatus{
			Name: s.Name, State: s.State, TunnelIPv4: s.TunnelIPv4, TunnelIPv6: s.TunnelIPv6,
			Interface: s.Interface, Server: s.Server, Cipher: s.Cipher,
			ConnectedSince: s.ConnectedAt, BytesIn: s.BytesIn, BytesOut: s.BytesOut,
		})
	}
	return out, nil
}

// Events subscribes to every connection's events; the channel closes when
// the daemon goes away.
func (b *Backend) Events(ctx context.Context) (<-chan gui.ConnEvent, error) {
	cl, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	if err := cl.Subscribe(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cl != cl {
		// The connection dropped (and maybe came back) since: the caller
		// must see the stream end and resynchronise.
		return nil, errors.New("the connection to the cvpn daemon was lost while subscribing")
	}
	return b.events, nil
}

// errUserCancelled ends a sign-in when its connection is disconnected.
var errUserCancelled = errors.New("the connection was disconnected")

// signInRun is one running browser sign-in.
type signInRun struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when its SignIn has returned (port free)
}

// cancelSignIn ends the browser sign-in of name, if one runs, and waits
// (at most 5 s) until its listener has let go of the port.
func (b *Backend) cancelSignIn(name string) {
	b.mu.Lock()
	r := b.signins[name]
	delete(b.signins, name)
	b.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel(errUserCancelled)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		b.log().Warn("the browser sign-in did not end within 5 s of its cancel", "name", name)
	}
}

// abandonSignIn cancels the browser sign-in of name, if one runs, without
// waiting for it (the IPC reader calls it). The run stays registered until
// it has returned, so that a Disconnect still waits for its port.
func (b *Backend) abandonSignIn(name string) {
	b.mu.Lock()
	r := b.signins[name]
	b.mu.Unlock()
	if r != nil {
		r.cancel(errConnectionEnded)
	}
}

// errConnectionEnded ends a sign-in whose connection has ended.
var errConnectionEnded = errors.New("the connection has ended")

func (b *Backend) log() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// federation runs one connection's browser sign-ins in this app, on a
// context that Disconnect cancels (the IPC client's own context lives as
// long as the app's link to the daemon, far longer than a sign-in).
type federation struct {
	b    *Backend
	name string
}

func (f *federation) ACSPort() int { return f.b.SignIn.ACSPort() }

func (f *federation) SignIn(ctx context.Context, url string) (string, error) {
	ctx, done := f.begin(ctx)
	defer done()
	// After an expired sign-in, the browser opens only when the user
	// asks (SignInAgain); Disconnect cancels the wait like the sign-in.
	if err := f.b.reauth.wait(ctx, f.name); err != nil {
		return "", err
	}
	br := f.b.SignIn // a copy per sign-in
	br.Logger = f.b.Logger
	return br.SignIn(ctx, url)
}

// OpenURL shows the sign-in page of an OpenVPN server's pending
// authentication (WEB_AUTH / OPEN_URL) in the user's browser, under the
// same rules as SignIn: after an expired sign-in only once the user asks
// (SignInAgain, one page however often asked), never a page the daemon
// has replaced (a newer request or Disconnect cancels the wait).
func (f *federation) OpenURL(ctx context.Context, url string) error {
	ctx, done := f.begin(ctx)
	defer done()
	if err := f.b.reauth.wait(ctx, f.name); err != nil {
		return err
	}
	br := f.b.SignIn // a copy per page
	br.Logger = f.b.Logger
	return br.OpenURL(ctx, url)
}

// begin registers a browser sign-in of the connection, replacing (ending)
// the one before, on a context that Disconnect cancels; done unregisters it.
func (f *federation) begin(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	run := &signInRun{cancel: cancel, done: make(chan struct{})}
	// A sign-in the daemon gave up on is replaced: end it and let it free
	// the port first.
	f.b.cancelSignIn(f.name)
	f.b.mu.Lock()
	if f.b.signins == nil {
		f.b.signins = map[string]*signInRun{}
	}
	f.b.signins[f.name] = run
	f.b.mu.Unlock()
	return ctx, func() {
		f.b.mu.Lock()
		if f.b.signins[f.name] == run { // a newer sign-in may have replaced it
			delete(f.b.signins, f.name)
		}
		f.b.mu.Unlock()
		cancel(nil)
		close(run.done)
	}
}
