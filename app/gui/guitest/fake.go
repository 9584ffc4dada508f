package guitest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cvpn/cvpn/app/gui"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/clientapi"
)

// Backend implements gui.Backend. Safe for concurrent use.
type Backend struct {
	gui.StoreProfiles

	now func() time.Time

	mu    sync.Mutex
	conns map[string]*gui.ConnStatus
	creds map[string]clientapi.Credentials
	subs  map[chan gui.ConnEvent]struct{}
	calls []string
	// down makes every connection call fail with gui.ErrDaemonNotRunning.
	down       bool
	connectErr error
	// BlockWhenDown, when set, says whether a profile blocks traffic while
	// the tunnel is down (as daemonbackend.Backend.BlockWhenDown); such a
	// connect is recorded as "connect NAME --block-when-down" and emits
	// the blocked event.
	BlockWhenDown func(name string) bool
	blocked       map[string]bool
	// Desktop, when set, answers ActiveDesktopSession (the daemon's
	// view of this app's desktop session); nil answers "active".
	Desktop func() (active bool, reason string, err error)
}

// New returns a fake over a profile store; now nil is time.Now.
func New(store *profilestore.Store, now func() time.Time) *Backend {
	if now == nil {
		now = time.Now
	}
	return &Backend{
		StoreProfiles: gui.StoreProfiles{Store: store},
		now:           now,
		conns:         map[string]*gui.ConnStatus{},
		creds:         map[string]clientapi.Credentials{},
		subs:          map[chan gui.ConnEvent]struct{}{},
	}
}

var _ gui.Backend = (*Backend)(nil)

var _ gui.DesktopSession = (*Backend)(nil)

// ActiveDesktopSession implements gui.DesktopSession (Desktop).
func (b *Backend) ActiveDesktopSession(context.Context) (bool, string, error) {
	if b.Desktop == nil {
		return true, "fake: active", nil
	}
	return b.Desktop()
}

// SetDown simulates a stopped daemon.
func (b *Backend) SetDown(down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down = down
}

// FailNextConnect makes the next Connect call return err.
func (b *Backend) FailNextConnect(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connectErr = err
}

// Calls returns the connection requests received, as "connect NAME",
// "disconnect NAME" and "signin-again NAME".
func (b *Backend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

// SignInAgain records "signin-again NAME" (the GUI's "Sign in again"
// button; daemonbackend.Backend starts the held browser sign-in).
func (b *Backend) SignInAgain(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, "signin-again "+name)
	return true
}

// Credentials returns the credentials the UI passed with Connect.
func (b *Backend) Credentials(name string) clientapi.Credentials {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.creds[name]
}

func (b *Backend) downErr() error {
	if b.down {
		return fmt.Errorf("dial unix /run/cvpn/cvpn.sock: %w", gui.ErrDaemonNotRunning)
	}
	return nil
}

// Connect implements gui.Connections: it checks the profile exists and
// emits the resolving state.
func (b *Backend) Connect(ctx context.Context, name string, creds clientapi.Credentials) error {
	if _, err := b.StoreProfiles.Read(name); err != nil {
		return err
	}
	b.mu.Lock()
	if err := b.downErr(); err != nil {
		b.mu.Unlock()
		return err
	}
	block := b.BlockWhenDown != nil && b.BlockWhenDown(name)
	if block {
		b.calls = append(b.calls, "connect "+name+" --block-when-down")
	} else {
		b.calls = append(b.calls, "connect "+name)
	}
	if err := b.connectErr; err != nil {
		b.connectErr = nil
		b.mu.Unlock()
		return err
	}
	if c := b.conns[name]; c != nil && c.State != clientapi.StateDisconnected {
		b.mu.Unlock()
		return fmt.Errorf("%s is already %s", name, c.State)
	}
	b.creds[name] = creds
	if block {
		if b.blocked == nil {
			b.blocked = map[string]bool{}
		}
		b.blocked[name] = true
	}
	b.mu.Unlock()
	if block {
		b.Emit(name, clientapi.Event{Event: clientapi.EventBlocked, Detail: "full", Message: "all traffic outside the tunnel is blocked except to the VPN server"})
	}
	b.Emit(name, clientapi.Event{Event: clientapi.EventState, State: clientapi.StateResolving})
	return nil
}

// Unblock implements gui.Unblocker: it lifts every block, recorded as
// "unblock", and emits unblocked for each.
func (b *Backend) Unblock(ctx context.Context) (string, error) {
	b.mu.Lock()
	if err := b.downErr(); err != nil {
		b.mu.Unlock()
		return "", err
	}
	b.calls = append(b.calls, "unblock")
	var names []string
	for n := range b.blocked {
		names = append(names, n)
	}
	b.blocked = nil
	b.mu.Unlock()
	if len(names) == 0 {
		return "No block was in place.", nil
	}
	for _, n := range names {
		b.Emit(n, clientapi.Event{Event: clientapi.EventUnblocked, Message: "lifted"})
	}
	return "Lifted the full block of \"" + strings.Join(names, ", ") + "\" until the connection ends.", nil
}

// Disconnect implements gui.Connections: it emits disconnecting and
// disconnected.
func (b *Backend) Disconnect(ctx context.Context, name string) error {
	b.mu.Lock()
	if err := b.downErr(); err != nil {
		b.mu.Unlock()
		return err
	}
	b.calls = append(b.calls, "disconnect "+name)
	c := b.conns[name]
	b.mu.Unlock()
	if c == nil {
		return fmt.Errorf("no connection named %q", name)
	}
	b.Emit(name, clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnecting})
	b.Emit(name, clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
	return nil
}

// Status implements gui.Connections.
func (b *Backend) Status(ctx context.Context) ([]gui.ConnStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.downErr(); err != nil {
		return nil, err
	}
	out := []gui.ConnStatus{}
	for _, c := range b.conns {
		if c.State != clientapi.StateDisconnected {
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Events implements gui.Connections. The channel holds up to 256 events;
// more are dropped (the UI catches up through Status).
func (b *Backend) Events(ctx context.Context) (<-chan gui.ConnEvent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.downErr(); err != nil {
		return nil, err
	}
	ch := make(chan gui.ConnEvent, 256)
	b.subs[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	})
	return ch, nil
}

// Emit records an event the way the daemon would (state, addresses,
// errors) and sends it to every subscriber. A zero Time is set to now.
func (b *Backend) Emit(name string, ev clientapi.Event) {
	if ev.Time.IsZero() {
		ev.Time = b.now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.conns[name]
	if c == nil {
		c = &gui.ConnStatus{Name: name, State: clientapi.StateDisconnected}
		b.conns[name] = c
	}
	switch ev.Event {
	case clientapi.EventState:
		c.State, c.Detail = ev.State, ev.Detail
		switch ev.State {
		case clientapi.StateConnected:
			c.TunnelIPv4, c.TunnelIPv6, c.Interface, c.Server, c.Cipher = ev.TunnelIPv4, ev.TunnelIPv6, ev.Interface, ev.Server, ev.Cipher
			c.ConnectedSince = ev.Time
		case clientapi.StateDisconnected:
			*c = gui.ConnStatus{Name: name, State: clientapi.StateDisconnected, LastError: c.LastError}
			delete(b.creds, name)
		}
	case clientapi.EventError:
		c.LastError = ev.Message
	}
	for ch := range b.subs {
		select {
		case ch <- gui.ConnEvent{Name: name, Event: ev}:
		default:
		}
	}
}

// SetTraffic sets a connection's byte counters.
func (b *Backend) SetTraffic(name string, in, out uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.conns[name]; c != nil {
		c.BytesIn, c.BytesOut = in, out
	}
}

// ConnectScript emits the states of a successful connection: resolving,
// connecting, authenticating, configuring, connected with the given
// tunnel address.
func (b *Backend) ConnectScript(name, server, ipv4 string) {
	for _, s := range []clientapi.State{clientapi.StateConnecting, clientapi.StateAuthenticating, clientapi.StateConfiguring} {
		b.Emit(name, clientapi.Event{Event: clientapi.EventState, State: s})
	}
	b.Emit(name, clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, Server: server,
		TunnelIPv4: ipv4, Interface: "tun0", Cipher: "AES-256-GCM"})
}
