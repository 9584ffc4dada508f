package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/ctrlmsg"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/platform"
)

// Client runs one VPN connection until its context ends.
type Client struct {
	cfg    Config
	stats  Stats
	runCtx context.Context

	mu        sync.Mutex
	user      string
	pass      string
	haveCreds bool
	token     string
	tokenUser string
	crv1      string // pending dynamic challenge response (password)
	// pinned is the server address a SAML phase 2 must use (the
	// assertion is bound to the phase 1 connection's server).
	pinned netip.AddrPort
	saml   string // pending "CRV1::state::SAMLResponse" password
	// webToken: the auth-token was earned by a web sign-in (WEB_AUTH /
	// OPEN_URL); its refusal means the user must sign in again.
	webToken bool

	// live is the applied tunnel of the running connection and update the
	// PUSH_UPDATE options received so far; serve's goroutine only.
	live     *platform.Applied
	liveInfo TunnelInfo
	update   []ctrlmsg.UpdateOption

	// refreshRoutes re-points the server host routes of the running
	// tunnel at the current network; used only by Run's goroutine.
	refreshRoutes func() (int, error)
	sourceFor     func(netip.AddrPort) (netip.Addr, error) // nil: transport.SourceFor
}

// New checks the configuration and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.Profile == nil {
		return nil, errors.New("client: no profile")
	}
	if len(cfg.Profile.Remotes) == 0 {
		return nil, fmt.Errorf("%s: no remote to connect to", cfg.Profile.Name)
	}
	if cfg.Tunnel == nil {
		return nil, errors.New("client: no tunnel configurator")
	}
	if cfg.TunnelID == "" {
		cfg.TunnelID = platform.DefaultID
	}
	return &Client{cfg: cfg}, nil
}

// Stats returns the connection's traffic counters.
func (c *Client) Stats() *Stats { return &c.stats }

func (c *Client) handshakeTimeout() time.Duration {
	if c.cfg.HandshakeTimeout > 0 {
		return c.cfg.HandshakeTimeout
	}
	t := c.cfg.Profile.ServerPollTimeout
	if t <= 0 || t > 60*time.Second {
		t = 60 * time.Second
	}
	return t
}

// Run connects, keeps the tunnel up and reconnects after failures until ctx
// is cancelled (a requested disconnect: Run returns nil after a clean
// teardown) or a fatal error: ErrAuthFailed, ErrHalted, ErrInactive, or the
// attempt limit.
func (c *Client) Run(ctx context.Context) error {
	cfg := &c.cfg
	log := cfg.logger()
	p := cfg.Profile
	c.runCtx = ctx
	backoff := p.ConnectRetry
	if backoff <= 0 {
		backoff = time.Second
	}
	maxBackoff := p.ConnectRetryMax
	if maxBackoff <= 0 {
		maxBackoff = 300 * time.Second
	}
	maxAttempts := cfg.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = p.ConnectRetryAttempts
	}
	failures := 0
	reason := ""
	var lastServer netip.AddrPort // for the network-down check
	for {
		if ctx.Err() != nil {
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return nil
		}
		lg, err := c.login(ctx, reason)
		if err != nil {
			if ctx.Err() != nil {
				cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
				return nil
			}
			return err
		}
		// The TUN device is created while the handshake runs, once the
		// server has answered; serve's Apply takes it over. A failed
		// attempt removes it, so nothing is left while retrying.
		prep := c.newTunnelPrep()
		l, err := c.connect(ctx, lg, prep.start)
		if err == nil {
			failures = 0
			backoff = max(p.ConnectRetry, time.Second)
			lastServer = l.server
			err = c.serve(ctx, l, prep.wait())
		}
		prep.release()
		if err == nil {
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return nil
		}
		if ctx.Err() != nil {
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return nil
		}
		var ae *authError
		switch {
		case errors.As(err, &ae) && ae.msg.Temp:
			// AUTH_FAILED,TEMP: the same credentials again, no sooner
			// than the server's backoff hint.
			if h := ae.msg.Hint(); h.Backoff > backoff {
				backoff = h.Backoff
			}
			err = &tempAuthError{ae}
		case errors.As(err, &ae):
			reason, err = c.onAuthFailed(ae)
			if err != nil {
				cfg.emit(clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
				cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
				return err
			}
			if reason == "" {
				// challenge answered or token dropped: retry at once
				continue
			}
		case errors.Is(err, clientapi.ErrHalted), errors.Is(err, clientapi.ErrInactive):
			cfg.emit(clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return err
		}
		if errors.Is(err, errReconnectNow) && !c.networkDown(lastServer) {
			log.Info("reconnecting at once", "reason", err)
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateReconnecting, Detail: err.Error()})
			continue
		}
		failures++
		err = explainTLSAlert(err)
		log.Warn("connection failed", "err", err, "attempt", failures)
		cfg.emit(clientapi.Event{Event: clientapi.EventError, Message: err.Error()})
		if maxAttempts > 0 && failures >= maxAttempts {
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnected})
			return fmt.Errorf("giving up after %d attempts: %w", failures, err)
		}
		c.waitRetry(ctx, backoff, lastServer)
		backoff = min(backoff*2, maxBackoff)
	}
}

// login decides the credentials of the next attempt.
func (c *Client) login(ctx context.Context, reason string) (login, error) {
	p := c.cfg.Profile
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Auth.Federated {
		if c.cfg.Federation == nil {
			return login{}, fmt.Errorf("%s: the profile signs in through the browser (auth-federate) and no browser sign-in is available here", p.Name)
		}
		switch {
		case c.saml != "":
			lg := login{user: "N/A", pass: c.saml, aws: true}
			c.saml = ""
			return lg, nil
		case c.token != "":
			user := "N/A"
			if c.tokenUser != "" {
				user = c.tokenUser
			}
			return login{user: user, pass: c.token, aws: true}, nil
		}
		c.pinned = netip.AddrPort{}
		return login{user: "N/A", pass: fmt.Sprintf("ACS::%d", c.cfg.Federation.ACSPort()), aws: true}, nil
	}
	if !p.Auth.UserPass {
		return login{}, nil
	}
	if c.crv1 != "" {
		lg := login{user: c.user, pass: c.crv1}
		c.crv1 = ""
		return lg, nil
	}
	if c.token != "" {
		user := c.user
		if c.tokenUser != "" {
			user = c.tokenUser
		}
		return login{user: user, pass: c.token}, nil
	}
	if !c.haveCreds || reason != "" {
		if c.cfg.Credentials == nil {
			return login{}, fmt.Errorf("%s: the profile needs a user name and password (auth-user-pass) and none was given", p.Name)
		}
		user, pass, err := c.cfg.Credentials.UserPass(ctx, reason)
		if err != nil {
			return login{}, err
		}
		c.user, c.pass, c.haveCreds = user, pass, true
	}
	pass := c.pass
	if sc := p.StaticChallenge; sc != nil {
		if c.cfg.Credentials == nil {
			return login{}, fmt.Errorf("%s: the profile asks for a one-time code (static-challenge) and no way to ask for it was given", p.Name)
		}
		resp, err := c.cfg.Credentials.Challenge(ctx, sc.Text, sc.Echo)
		if err != nil {
			return login{}, err
		}
		pass = ctrlmsg.SCRV1(c.pass, resp)
	}
	return login{user: c.user, pass: pass}, nil
}

// connect tries every remote (and every address of it) once.
// onAnswer is called when a server first answers (see dialLink).
func (c *Client) connect(ctx context.Context, lg login, onAnswer func()) (*link, error) {
	cfg := &c.cfg
	p := cfg.Profile
	var errs []error
	c.mu.Lock()
	pinned := c.pinned
	c.mu.Unlock()
	if pinned.IsValid() {
		// SAML phase 2 must reach the server that issued the challenge.
		for _, r := range p.Remotes {
			if r.Port != int(pinned.Port()) {
				continue
			}
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnecting, Server: pinned.String(), Detail: r.String()})
			return dialLink(ctx, cfg, r, pinned, lg, c.handshakeTimeout(), onAnswer)
		}
	}
	for _, r := range p.Remotes {
		cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateResolving, Detail: r.String()})
		addrs, err := transport.Resolve(ctx, cfg.Resolver, r.Host, p.RemoteRandomHostname, 30*time.Second)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			if r.Proto == "udp4" || r.Proto == "tcp4" {
				if !a.Is4() {
					continue
				}
			}
			if r.Proto == "udp6" || r.Proto == "tcp6" {
				if !a.Is6() {
					continue
				}
			}
			ap := netip.AddrPortFrom(a, uint16(r.Port))
			cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnecting, Server: ap.String(), Detail: r.String()})
			l, err := dialLink(ctx, cfg, r, ap, lg, c.handshakeTimeout(), onAnswer)
			if err == nil {
				return l, nil
			}
			var ae *authError
			if errors.As(err, &ae) || errors.Is(err, clientapi.ErrHalted) || ctx.Err() != nil {
				return nil, err
			}
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// serve configures the tunnel for an established link and runs it until it
// fails (error) or ctx ends (nil after a clean teardown).
func (c *Client) serve(ctx context.Context, l *link, prepared *platform.Prepared) error {
	cfg := &c.cfg
	log := cfg.logger()
	po := l.push
	if po.AuthToken != "" {
		c.mu.Lock()
		c.token, c.tokenUser = po.AuthToken, po.AuthTokenUser
		c.webToken = l.webURL != ""
		c.mu.Unlock()
	}
	ext, err := ctrlmsg.ParseExtensions(po.Echo)
	if err != nil {
		log.Warn(err.Error())
	}
	if ext.Banner != "" {
		cfg.emit(clientapi.Event{Event: clientapi.EventBanner, Text: ext.Banner})
	}
	cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConfiguring})
	tc, err := tunnelConfig(cfg.Profile, po, l.server.Addr(), cfg.TunnelID)
	if err != nil {
		l.close()
		return fmt.Errorf("%s: %w", l.peer, err)
	}
	tc.Prepared = prepared
	if _, notes := dnsConfig(cfg.Profile, po, tc.RedirectIPv4); len(notes) > 0 {
		for _, n := range notes {
			log.Warn(n)
			cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: n})
		}
	}
	applied, err := cfg.Tunnel.Apply(tc)
	if err != nil {
		l.close()
		return fmt.Errorf("configuring the tunnel: %w", err)
	}
	var tunnelDown func()
	c.liveInfo = TunnelInfo{
		Interface: applied.Name, IfIndex: applied.IfIndex, Config: tc, Push: po,
		Server: l.server.Addr(), EnforceRoutes: ext.RouteEnforcement,
	}
	if cfg.OnTunnelUp != nil {
		tunnelDown = cfg.OnTunnelUp(c.liveInfo)
	}
	dp := newDataPath(l, applied.Device, &c.stats, tc.MTU)
	fn := dp.fromNetwork
	l.data.Store(&fn)

	ev := clientapi.Event{Event: clientapi.EventState, State: clientapi.StateConnected, Interface: applied.Name, Server: l.server.String(), Cipher: l.cipher.String(), KeyDerivation: "prf"}
	if l.ekm {
		ev.KeyDerivation = "tls-ekm"
	}
	if l.epoch {
		ev.DataKeys = "epoch"
	}
	for _, a := range tc.Addresses {
		if a.Prefix.Addr().Is4() {
			ev.TunnelIPv4 = a.Prefix.Addr().String()
		} else {
			ev.TunnelIPv6 = a.Prefix.Addr().String()
		}
	}
	cfg.emit(ev)
	log.Info("connected", "interface", applied.Name, "tunnel_ipv4", ev.TunnelIPv4, "tunnel_ipv6", ev.TunnelIPv6, "cipher", ev.Cipher, "key_derivation", ev.KeyDerivation)

	tunErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tunErr <- dp.fromTUN()
	}()

	c.live, c.update = applied, nil
	c.refreshRoutes = applied.RefreshServerRoutes // for network changes (netchange.go)
	runErr := c.supervise(ctx, l, dp, tunErr)
	c.live, c.update = nil, nil
	c.refreshRoutes = nil

	if runErr == nil || errors.Is(runErr, clientapi.ErrInactive) {
		cfg.emit(clientapi.Event{Event: clientapi.EventState, State: clientapi.StateDisconnecting})
		c.sayGoodbye(l, dp)
	}
	if tunnelDown != nil {
		tunnelDown()
	}
	l.data.Store(nil)
	l.close()
	if err := applied.Close(); err != nil {
		log.Error("undoing the tunnel configuration", "err", err)
		cfg.emit(clientapi.Event{Event: clientapi.EventError, Message: "undoing the tunnel configuration: " + err.Error()})
	}
	wg.Wait()
	return runErr
}

// supervise runs keepalive, renegotiation timers and control messages.
func (c *Client) supervise(ctx context.Context, l *link, dp *dataPath, tunErr <-chan error) error {
	cfg := &c.cfg
	p := cfg.Profile
	po := l.push
	ping := p.Ping
	if po.Ping >= 0 {
		ping = time.Duration(po.Ping) * time.Second
	}
	restart := p.PingRestart
	if po.PingRestart >= 0 {
		restart = time.Duration(po.PingRestart) * time.Second
	}
	inactive := p.Inactive
	inactiveBytes := p.InactiveBytes
	if po.Inactive != nil {
		inactive = time.Duration(po.Inactive.Seconds) * time.Second
		inactiveBytes = po.Inactive.Bytes
	}
	var renegAt, limitReneg time.Time
	if p.RenegInterval > 0 {
		renegAt = cfg.now().Add(p.RenegInterval)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastActive := cfg.now()
	lastBytes := c.stats.BytesIn.Load() + c.stats.BytesOut.Load()
	r := c.newRoam(l)
	changes := cfg.NetChanges
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-tunErr:
			if err == nil {
				err = errors.New("the tunnel device closed")
			}
			return err
		case err := <-l.fail:
			return err
		case raw := <-l.msgs:
			if err := c.onControlMessage(l, raw); err != nil {
				return err
			}
		case err := <-dp.sendErr:
			if err := c.onSendError(l, dp, r, err); err != nil {
				return err
			}
		case ch, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if err := c.onNetChange(l, dp, r, ch); err != nil {
				return err
			}
		case <-tick.C:
			now := cfg.now()
			if err := c.checkRoam(l, dp, r, now, restart); err != nil {
				return err
			}
			if ping > 0 && now.Sub(time.Unix(0, l.lastSend.Load())) >= ping {
				dp.sendPing()
			}
			if restart > 0 && now.Sub(time.Unix(0, l.lastRecv.Load())) >= restart {
				return fmt.Errorf("%s: no packet from the server for %s (ping-restart)", l.peer, restart)
			}
			if !renegAt.IsZero() && now.After(renegAt) {
				renegAt = now.Add(p.RenegInterval)
				l.renegotiateNow()
			} else if k := l.keys.Primary(); k != nil && k.NeedsRenegotiation() && now.Sub(limitReneg) > 10*time.Second {
				// The packet id or the AES-GCM usage limit is near.
				limitReneg = now
				l.renegotiateNow()
			}
			if inactive > 0 {
				b := c.stats.BytesIn.Load() + c.stats.BytesOut.Load()
				if b-lastBytes > uint64(inactiveBytes) {
					lastBytes, lastActive = b, now
				} else if now.Sub(lastActive) >= inactive {
					return fmt.Errorf("%w: less than %d bytes moved in %s", clientapi.ErrInactive, inactiveBytes, inactive)
				}
			}
		}
	}
}

func (c *Client) onControlMessage(l *link, raw string) error {
	if pu, ok, err := ctrlmsg.ParsePushUpdate(raw); ok {
		c.onPushUpdate(l, pu, err)
		return nil
	}
	m, err := ctrlmsg.Parse(raw)
	if err != nil {
		l.log.Warn("ignored malformed control message", "err", err)
		return nil
	}
	switch m := m.(type) {
	case ctrlmsg.AuthFailed:
		return &authError{m, l.server}
	case ctrlmsg.Restart:
		return fmt.Errorf("%s: the server asked the client to reconnect: %s", l.peer, m.Reason)
	case ctrlmsg.Halt:
		return fmt.Errorf("%w: %s", clientapi.ErrHalted, m.Reason)
	case ctrlmsg.Exit:
		return fmt.Errorf("%s: the server is shutting down", l.peer)
	case ctrlmsg.Info:
		c.cfg.emit(clientapi.Event{Event: clientapi.EventLog, Message: m.String()})
	case ctrlmsg.PushReply:
		// After a renegotiation the server may push a fresh auth-token.
		if po, err := ctrlmsg.ParsePushOptions(m.Options); err == nil && po.AuthToken != "" {
			c.mu.Lock()
			if c.token != "" || l.push.AuthToken != "" {
				c.token = po.AuthToken
				if po.AuthTokenUser != "" {
					c.tokenUser = po.AuthTokenUser
				}
			}
			c.mu.Unlock()
			l.mu.Lock()
			l.push.AuthToken = po.AuthToken
			l.mu.Unlock()
		}
	default:
		l.log.Debug("ignored control message", "msg", ctrlmsg.Redact(raw))
	}
	return nil
}

// sayGoodbye tells the server the client leaves on purpose.
func (c *Client) sayGoodbye(l *link, dp *dataPath) {
	if l.push.ProtocolFlags.CCExit {
		if err := l.sendMessage(ctrlmsg.Exit{}); err == nil {
			time.Sleep(100 * time.Millisecond) // let the reliable layer send it
			return
		}
	}
	if !l.conn.Reliable() {
		n := c.cfg.Profile.ExplicitExitNotify
		if l.push.ExplicitExitNotify > 0 {
			n = l.push.ExplicitExitNotify
		}
		if n > 0 {
			dp.sendExitNotify(min(n, 3))
		}
	}
}
