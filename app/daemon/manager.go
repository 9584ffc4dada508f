package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/killswitch"
	"github.com/cvpn/cvpn/platform/netmon"
)

// DefaultMaxConnections is how many connections may be open at once.
const DefaultMaxConnections = 5

// Config configures a Manager.
type Config struct {
	// StateDir is the daemon's state root: sessions/NAME holds each
	// connection's crash-recovery state, logs/ the connection logs.
	StateDir string
	Logger   *slog.Logger
	Version  string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxConnections, 0 for DefaultMaxConnections.
	MaxConnections int
	Authorizer     Authorizer
	// Run runs one session; nil means session.Run (tests use a fake).
	Run func(ctx context.Context, o session.Options) error
	// Firewall holds blocks of traffic outside the tunnel; nil opens the
	// OS backend when a connection asks for one.
	Firewall killswitch.Firewall
	// DisconnectTimeout bounds how long Disconnect waits for a session to
	// end; default 20 s.
	DisconnectTimeout time.Duration
	// PolicyFile is the administrator's policy file every session reads
	// (app/policy); empty for policy.Resolve("").
	PolicyFile string
	// SystemProfiles is the folder of system profiles (policy profiles_dir);
	// a connect request without profile text names one of them. Empty: none.
	SystemProfiles string
	// Autoconnect names the system profiles Autoconnect starts and keeps up.
	Autoconnect []string
	// NetworkMonitor is what the daemon's network monitor saw recently
	// (platform/netmon), for diagnostics; nil for none.
	NetworkMonitor interface{ Recent() []netmon.Change }
	// Desktop tells whether a front end runs in the active desktop
	// session (the app there connects autoconnect profiles that need a
	// user); nil for the OS's (logind, the console session or user).
	Desktop Desktop
	// RetryMin and RetryMax bound the wait before an autoconnect profile is
	// started again after its session ended (doubling); 0 means 1 s and 60 s.
	RetryMin, RetryMax time.Duration
}

// Manager owns the daemon's connections. It implements ipc.Handler.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	conns   map[string]*conn
	subs    map[int]func(string, clientapi.Event)
	nextSub int
	closed  bool
	stop    chan struct{} // closed by Close
	recent  []recentEvent // the recent event stream, for diagnostics
	wg      sync.WaitGroup
}

// conn is one connection. Fields after mu are guarded by Manager.mu.
type conn struct {
	name    string
	owner   ipc.Peer
	ownerNm string
	fe      ipc.FrontEnd
	cancel  context.CancelCauseFunc
	done    chan struct{}
	started time.Time
	stats   atomic.Pointer[client.Stats]

	state       clientapi.State
	connected   clientapi.Event // the last connected event
	connectedAt time.Time
	plan        plan
	up          bool // plan is the applied configuration
	dns         bool
	requested   bool
	managed     bool // an autoconnect connection the daemon owns
	// blockWhenDown: the user asked to block traffic outside the tunnel;
	// block is the block once held.
	blockWhenDown bool
	block         *killswitch.Block
	// sleepEnds: the front end's profile setting "Reconnect after the
	// computer wakes up" is off; the session ends when the machine sleeps.
	sleepEnds bool
}

// errRequested is the cancel cause of a disconnect request.
var errRequested = errors.New("disconnected by request")

// New returns a Manager; call Recover before serving and Close at the end.
func New(cfg Config) (*Manager, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("daemon: Config.StateDir is empty")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.Run == nil {
		cfg.Run = session.Run
	}
	if cfg.DisconnectTimeout <= 0 {
		cfg.DisconnectTimeout = 20 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(60*time.Second, cfg.RetryMin)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: state folder: %w", err)
	}
	return &Manager{cfg: cfg, log: cfg.Logger, conns: make(map[string]*conn), subs: make(map[int]func(string, clientapi.Event)),
		stop: make(chan struct{})}, nil
}

func (m *Manager) sessionsDir() string { return filepath.Join(m.cfg.StateDir, "sessions") }
func (m *Manager) logsDir() string     { return filepath.Join(m.cfg.StateDir, "logs") }

// Recover finishes the cleanup a crashed predecessor left: the state files
// in the state root (a foreground cvpn connect) and in every session
// folder (routes, DNS, TUN devices), then rotates the logs.
func (m *Manager) Recover() error {
	var errs []error
	if err := session.Recover(m.cfg.StateDir, m.log); err != nil {
		errs = append(errs, err)
	}
	entries, err := os.ReadDir(m.sessionsDir())
	if err != nil && !os.IsNotExist(err) {
		errs = append(errs, fmt.Errorf("daemon: %w", err))
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(m.sessionsDir(), e.Name())
		if state, err := hasState(dir); err != nil || state {
			m.log.Info("cleaning up after a previous daemon", "session", e.Name())
			if err := session.Recover(dir, m.log); err != nil {
				errs = append(errs, fmt.Errorf("session %s: %w", e.Name(), err))
				continue
			}
		}
		removeSessionDir(dir) // no session runs yet: its lock files are stale
	}
	if err := m.restoreBlock(); err != nil {
		errs = append(errs, err)
	}
	if _, err := rotateLogs(m.logsDir(), m.cfg.Now(), LogMaxAge, LogMaxTotal); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close disconnects every connection and waits until they have ended.
func (m *Manager) Close() {
	m.mu.Lock()
	if !m.closed {
		close(m.stop)
	}
	m.closed = true
	for _, c := range m.conns {
		c.cancel(errors.New("the cvpn daemon is stopping"))
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// Status implements ipc.Handler.
func (m *Manager) Status(ipc.Peer) []ipc.Status {
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ipc.Status, 0, len(m.conns))
	for _, c := range m.conns {
		s := ipc.Status{
			Name: c.name, OwnerUID: c.owner.UID, Owner: c.ownerNm, State: c.state,
			Started: c.started, FullTunnel: c.plan.FullTunnel, DNS: c.dns, Managed: c.managed,
		}
		if s.State == "" {
			s.State = clientapi.StateResolving
		}
		if c.state == clientapi.StateConnected {
			ev := c.connected
			s.TunnelIPv4, s.TunnelIPv6, s.Interface, s.Server, s.Cipher = ev.TunnelIPv4, ev.TunnelIPv6, ev.Interface, ev.Server, ev.Cipher
			s.ConnectedAt = c.connectedAt
			s.DurationSeconds = int64(now.Sub(c.connectedAt) / time.Second)
		}
		if st := c.stats.Load(); st != nil {
			s.BytesIn, s.BytesOut = st.BytesIn.Load(), st.BytesOut.Load()
		}
		for _, r := range c.plan.routes() {
			s.Routes = append(s.Routes, r.String())
		}
		if c.block != nil && !c.block.Lifted() {
			s.Blocked = string(c.block.Rules().Mode)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Subscribe implements ipc.Handler.
func (m *Manager) Subscribe(fn func(string, clientapi.Event)) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextSub++
	id := m.nextSub
	m.subs[id] = fn
	return func() {
		m.mu.Lock()
		delete(m.subs, id)
		m.mu.Unlock()
	}
}

func refused(format string, a ...any) error {
	return &ipc.Error{Code: ipc.CodeRefused, Message: fmt.Sprintf(format, a...)}
}

// Connect implements ipc.Handler.
func (m *Manager) Connect(ctx context.Context, fe ipc.FrontEnd, name, text string, bind bool) error {
	return m.connect(ctx, fe, name, text, ipc.ConnectOptions{Bind: bind})
}

func (m *Manager) connect(_ context.Context, fe ipc.FrontEnd, name, text string, o ipc.ConnectOptions) error {
	bind := o.Bind
	if err := profilestore.ValidateName(name); err != nil {
		return &ipc.Error{Code: ipc.CodeBadRequest, Message: err.Error()}
	}
	sfe, managed := fe.(*systemFrontEnd)
	if text == "" {
		t, err := m.systemProfile(name)
		if err != nil {
			return err
		}
		text = t
	}
	p, ds := profile.Parse([]byte(text), profile.Options{Name: name, NoFiles: true, Now: m.cfg.Now})
	if ds.HasErrors() {
		return &ipc.Error{Code: ipc.CodeProfile, Message: fmt.Sprintf("profile %s has errors:\n%s", name, ds.String())}
	}
	pl := profilePlan(p)
	now := m.cfg.Now()

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return refused("the cvpn daemon is stopping")
	}
	if o, ok := m.conns[name]; ok {
		m.mu.Unlock()
		return refused("connection %s is already open (started by %s)", name, userLabel(o.owner))
	}
	if len(m.conns) >= m.cfg.MaxConnections {
		m.mu.Unlock()
		return refused("%d connections are open, the most the daemon runs at once; disconnect one first", len(m.conns))
	}
	for _, o := range m.sortedConns() {
		if err := conflict(pl, o.name, o.plan); err != nil {
			m.mu.Unlock()
			return refused("cannot connect %s: %v", name, err)
		}
	}
	dns := true
	for _, o := range m.conns {
		if o.dns {
			dns = false
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if managed {
		sfe.setGiveUp(cancel)
	}
	c := &conn{name: name, owner: fe.Peer(), ownerNm: userName(fe.Peer()), fe: fe, cancel: cancel,
		done: make(chan struct{}), started: now, plan: pl, dns: dns, state: clientapi.StateResolving, managed: managed, blockWhenDown: o.BlockWhenDown,
		sleepEnds: o.NoReconnectAfterResume}
	m.conns[name] = c
	m.wg.Add(1)
	m.mu.Unlock()

	stateDir := filepath.Join(m.sessionsDir(), name)
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		m.remove(c)
		m.wg.Done()
		return &ipc.Error{Code: ipc.CodeInternal, Message: fmt.Sprintf("state folder: %v", err)}
	}
	if _, err := rotateLogs(m.logsDir(), now, LogMaxAge, LogMaxTotal); err != nil {
		m.log.Warn("log rotation", "err", err)
	}
	lf, err := openLog(m.logsDir(), name, now)
	if err != nil {
		m.remove(c)
		m.wg.Done()
		return &ipc.Error{Code: ipc.CodeInternal, Message: err.Error()}
	}
	m.log.Info("connecting", "name", name, "owner", c.owner.String(), "dns", dns)
	lf.Logger.Info("connect requested", "owner", c.owner.String(), "version", m.cfg.Version, "dns", dns)

	go func() {
		defer m.wg.Done()
		m.run(ctx, c, p, stateDir, lf)
	}()
	if bind {
		m.wg.Go(func() {
			select {
			case <-fe.Done():
				m.log.Info("front end that started the connection is gone; disconnecting", "name", name)
				m.mu.Lock()
				c.requested = true
				m.mu.Unlock()
				cancel(errors.New("the front end that started it has gone"))
			case <-c.done:
			}
		})
	}
	return nil
}

// sortedConns lists the connections by name; m.mu is held.
func (m *Manager) sortedConns() []*conn {
	out := make([]*conn, 0, len(m.conns))
	for _, c := range m.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (m *Manager) remove(c *conn) {
	m.mu.Lock()
	if m.conns[c.name] == c {
		delete(m.conns, c.name)
	}
	m.mu.Unlock()
}

// run runs one session to its end and reports the result to the owner.
func (m *Manager) run(ctx context.Context, c *conn, p *profile.Profile, stateDir string, lf *logFile) {
	creds := c.fe.Credentials(c.name)
	// Federated sign-in: the front end's credentials can usually also run
	// the browser part (ipc asks it with a "saml" question), as the desktop
	// user and never as the daemon's root.
	fed, _ := creds.(clientapi.Federation)
	err := m.cfg.Run(ctx, session.Options{
		Profile:       p,
		Credentials:   creds,
		Federation:    fed,
		StateDir:      stateDir,
		TunnelID:      c.name,
		Events:        func(ev clientapi.Event) { m.event(c, lf.Logger, ev) },
		Logger:        lf.Logger,
		Version:       m.cfg.Version,
		PolicyFile:    m.cfg.PolicyFile,
		NoDNS:         !c.dns,
		OnTunnelUp:    func(info client.TunnelInfo) func() { return m.tunnelUp(ctx, c, info, lf.Logger) },
		OnClient:      func(cl *client.Client) { c.stats.Store(cl.Stats()) },
		BlockWhenDown: c.blockWhenDown,
		BlockUID:      c.owner.UID,
		BlockDir:      m.cfg.StateDir,
		Firewall:      m.cfg.Firewall,
		OnBlock: func(b *killswitch.Block) {
			m.mu.Lock()
			c.block = b
			m.mu.Unlock()
		},
		// Each session follows the network itself (one netlink socket).
		WatchNetwork:      true,
		DisconnectOnSleep: c.sleepEnds,
	})
	cause := context.Cause(ctx)
	m.mu.Lock()
	requested := c.requested
	m.mu.Unlock()
	var res ipc.Result
	switch {
	case err != nil && session.IsAuthFailure(err):
		res = ipc.Result{Reason: err.Error(), AuthFailed: true}
	case err != nil && ctx.Err() == nil:
		res = ipc.Result{Reason: err.Error()}
	case requested:
		res = ipc.Result{Reason: errRequested.Error(), Requested: true}
	case cause != nil:
		res = ipc.Result{Reason: cause.Error()}
	default:
		res = ipc.Result{Reason: "the session ended"}
	}
	lf.Logger.Info("connection ended", "reason", res.Reason, "requested", res.Requested, "auth_failed", res.AuthFailed)
	m.log.Info("connection ended", "name", c.name, "reason", res.Reason)
	if !res.Requested && err == nil && cause != nil && !errors.Is(cause, errRequested) {
		// A refusal after connecting (overlapping pushed routes) or a
		// daemon stop: tell everyone why.
		m.event(c, lf.Logger, clientapi.Event{Time: m.cfg.Now(), Event: clientapi.EventError, Message: res.Reason})
	}
	lf.Close()
	// Empty after a clean teardown but for the session's lock files, which
	// mean nothing once it has ended; state stays otherwise for Recover.
	removeSessionDir(stateDir)
	m.remove(c)
	close(c.done)
	c.fe.Ended(c.name, res)
}

// event records ev, logs it and forwards it to the owner and subscribers.
func (m *Manager) event(c *conn, log *slog.Logger, ev clientapi.Event) {
	if ev.Time.IsZero() {
		ev.Time = m.cfg.Now()
	}
	if ev.Event != clientapi.EventLog {
		log.Info("event", "event", ev.Event, "state", string(ev.State), "detail", ev.Detail, "message", ev.Message,
			"route", ev.Route, "interface", ev.Interface, "tunnel_ipv4", ev.TunnelIPv4, "server", ev.Server)
	}
	m.mu.Lock()
	m.remember(c, ev)
	if ev.Event == clientapi.EventState {
		c.state = ev.State
		if ev.State == clientapi.StateConnected {
			c.connected = ev
			c.connectedAt = ev.Time
		}
	}
	subs := make([]func(string, clientapi.Event), 0, len(m.subs))
	for _, s := range m.subs {
		subs = append(subs, s)
	}
	m.mu.Unlock()
	c.fe.Event(c.name, ev)
	for _, s := range subs {
		s(c.name, ev)
	}
}

// tunnelUp checks the applied configuration against the other connections
// and ends this one with the reason when they overlap.
func (m *Manager) tunnelUp(ctx context.Context, c *conn, info client.TunnelInfo, log *slog.Logger) func() {
	pl := plan{FullTunnel: info.Config.RedirectIPv4 || info.Config.RedirectIPv6}
	for _, r := range info.Config.Routes {
		pl.Routes = append(pl.Routes, r.Dst.Masked())
	}
	for _, a := range info.Config.Addresses {
		if a.Prefix.IsValid() && a.Prefix.Bits() < a.Prefix.Addr().BitLen() {
			pl.Routes = append(pl.Routes, a.Prefix.Masked())
		}
	}
	if info.Server.IsValid() {
		pl.Servers = []netip.Addr{info.Server.Unmap()}
	}
	m.mu.Lock()
	var cerr error
	for _, o := range m.sortedConns() {
		if o == c {
			continue
		}
		if err := conflict(pl, o.name, o.plan); err != nil {
			cerr = fmt.Errorf("disconnected %s: the server pushed routes that clash with another connection: %v", c.name, err)
			break
		}
	}
	if cerr == nil {
		c.plan, c.up = pl, true
	}
	m.mu.Unlock()
	if cerr != nil {
		log.Warn("refusing pushed configuration", "err", cerr)
		c.cancel(cerr)
		return nil
	}
	log.Info("tunnel up", "interface", info.Interface, "routes", strings.Join(routeStrings(info.Config.Routes), ","), "full_tunnel", pl.FullTunnel)
	return nil
}

func routeStrings(rs []platform.TunnelRoute) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Dst.String()
	}
	return out
}

// Disconnect implements ipc.Handler. It waits (bounded) until the
// connections have ended.
func (m *Manager) Disconnect(peer ipc.Peer, name string, all bool) ([]string, error) {
	m.mu.Lock()
	var targets []*conn
	var denied error
	if all {
		for _, c := range m.sortedConns() {
			if err := m.cfg.Authorizer.MayControl(peer, c.owner, c.name); err != nil {
				denied = err
				continue
			}
			targets = append(targets, c)
		}
		if len(targets) == 0 && denied != nil {
			m.mu.Unlock()
			return nil, denied
		}
	} else {
		c, ok := m.conns[name]
		if !ok {
			m.mu.Unlock()
			return nil, &ipc.Error{Code: ipc.CodeNotFound, Message: fmt.Sprintf("no connection named %q is open", name)}
		}
		if err := m.cfg.Authorizer.MayControl(peer, c.owner, c.name); err != nil {
			m.mu.Unlock()
			m.log.Info("disconnect denied", "name", name, "peer", peer.String())
			if c.managed {
				return nil, managedDenied(name, err)
			}
			return nil, err
		}
		targets = []*conn{c}
	}
	for _, c := range targets {
		c.requested = true
	}
	m.mu.Unlock()

	names := make([]string, 0, len(targets))
	for _, c := range targets {
		m.log.Info("disconnect requested", "name", c.name, "by", peer.String())
		c.cancel(errRequested)
		names = append(names, c.name)
	}
	timer := time.NewTimer(m.cfg.DisconnectTimeout)
	defer timer.Stop()
	for _, c := range targets {
		select {
		case <-c.done:
		case <-timer.C:
			return names, &ipc.Error{Code: ipc.CodeInternal, Message: fmt.Sprintf("connection %s did not end within %s", c.name, m.cfg.DisconnectTimeout)}
		}
	}
	return names, nil
}

// lockSuffix ends the names of the lock files a session holds while it
// runs (app/session's route journal lock); they carry no state.
const lockSuffix = ".lock"

// hasState reports whether a session folder holds anything but lock files:
// state a crashed session left for Recover.
func hasState(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), lockSuffix) {
			return true, nil
		}
	}
	return false, nil
}

// removeSessionDir removes a session folder of a session that has ended
// when nothing but lock files is left in it; anything else stays for the
// next Recover.
func removeSessionDir(dir string) {
	if state, err := hasState(dir); err != nil || state {
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
	_ = os.Remove(dir)
}
