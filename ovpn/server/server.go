package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/server/authz"
	"github.com/cvpn/cvpn/ovpn/server/config"
	"github.com/cvpn/cvpn/ovpn/server/connlog"
	"github.com/cvpn/cvpn/ovpn/server/handler"
	"github.com/cvpn/cvpn/ovpn/server/users"
	"github.com/cvpn/cvpn/ovpn/statickey"
	"github.com/cvpn/cvpn/ovpn/tlswrap"
	"github.com/cvpn/cvpn/ovpn/wire"
)

// Options are the server's collaborators; the zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Device replaces the TUN device (load tests); nil creates a TUN device
	// holding the first address of client_cidr and enables IPv4 forwarding.
	Device Device
	// Authenticator replaces the users file check (for example federated
	// SAML authentication). nil uses authentication.users_file when set.
	Authenticator Authenticator
	// ConnLog overrides connection_log.path.
	ConnLog io.Writer
	// Ready is called once the listeners are up with their actual
	// addresses (useful with port 0).
	Ready func(Info)
	// HandWindow bounds each key negotiation (default 60 s).
	HandWindow time.Duration
}

// Info describes a running server.
type Info struct {
	Listen  netip.AddrPort
	Metrics string // actual metrics address, "" when off
	Device  string // TUN device name, "" with Options.Device
}

// Server is one endpoint.
type Server struct {
	cfg     *config.Config
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	tlsConf *tls.Config
	crl     *crlState
	pool    *Pool
	authz   *authz.Table
	auth    Authenticator
	web     *webAuth // the web sign-in page (web_auth), nil without
	handler *handler.Handler
	clog    *connlog.Writer
	dev     Device

	wrapMode string // "", "tls-auth", "tls-crypt"
	wrapKey  [tlswrap.StaticKeyLen]byte
	v2Key    *tlswrap.V2ServerKey // tls-crypt-v2 server key, nil if none
	cookie   [32]byte

	mu       sync.RWMutex
	sessions map[string]*session     // by connection id
	byIP     map[netip.Addr]*session // established, by tunnel address
	byPeer   map[netip.AddrPort]*session
	byPeerID map[uint32]*session // established UDP sessions (float.go)
	peerIDs  uint32

	m metrics

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	// sessCtx outlives ctx until every session has been told to go away
	// (RESTART) on shutdown; sessions derive their contexts from it.
	sessCtx    context.Context
	sessCancel context.CancelFunc
}

// New validates what the configuration references (certificates, keys,
// CRL, static keys, users file) and prepares a server. Run starts it.
func New(cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, now: opts.Now,
		sessions: map[string]*session{}, byIP: map[netip.Addr]*session{}, byPeer: map[netip.AddrPort]*session{},
		byPeerID: map[uint32]*session{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.tlsSetup(); err != nil {
		return nil, err
	}
	var err error
	if s.pool, err = NewPool(cfg.ClientPrefix); err != nil {
		return nil, err
	}
	rules := make([]authz.Rule, len(cfg.Rules))
	for i, r := range cfg.Rules {
		rules[i] = authz.Rule{Destination: r.Destination, Group: r.Group}
	}
	s.authz = authz.New(rules)
	switch {
	case cfg.TLS.TLSCrypt != "":
		s.wrapMode = "tls-crypt"
		if err := s.readStaticKey("tls.tls_crypt", cfg.TLS.TLSCrypt); err != nil {
			return nil, err
		}
	case cfg.TLS.TLSAuth != "":
		s.wrapMode = "tls-auth"
		if err := s.readStaticKey("tls.tls_auth", cfg.TLS.TLSAuth); err != nil {
			return nil, err
		}
	}
	if cfg.TLS.TLSCryptV2 != "" {
		data, err := os.ReadFile(cfg.TLS.TLSCryptV2)
		if err != nil {
			return nil, fmt.Errorf("tls.tls_crypt_v2: %w", err)
		}
		if s.v2Key, err = tlswrap.ParseV2ServerKey(data); err != nil {
			return nil, fmt.Errorf("tls.tls_crypt_v2 %s: %w", cfg.TLS.TLSCryptV2, err)
		}
	}
	s.auth = opts.Authenticator
	if s.auth == nil && cfg.Authentication.UsersFile != "" {
		d, err := users.Load(cfg.Authentication.UsersFile)
		if err != nil {
			return nil, err
		}
		s.auth = UsersAuthenticator{Dir: d, Now: s.now}
	}
	if s.auth == nil && cfg.Authentication.SAMLIdPMetadata != "" {
		a, err := LoadSAMLAuthenticator(cfg.Authentication.SAMLIdPMetadata, s.now, s.log.With("component", "saml"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Path, err)
		}
		a.SetSessionTimeout(time.Duration(cfg.SessionTimeoutHours) * time.Hour)
		s.auth = a
	}
	s.handler = &handler.Handler{Command: cfg.ClientConnectHandler.Command, URL: cfg.ClientConnectHandler.URL}
	if _, err := rand.Read(s.cookie[:]); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) readStaticKey(key, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	k, err := statickey.Parse(data)
	if err != nil {
		return fmt.Errorf("%s %s: %w", key, path, err)
	}
	s.wrapKey = k
	return nil
}

// newWrapper builds a control-packet wrapper for the server side.
func (s *Server) newWrapper() (tlswrap.Wrapper, error) {
	switch s.wrapMode {
	case "tls-crypt":
		return tlswrap.NewTLSCrypt(s.wrapKey, wire.RoleServer, s.now)
	case "tls-auth":
		return tlswrap.NewTLSAuth(s.wrapKey, tlswrap.Direction0, s.cfg.Digest, s.now)
	}
	return tlswrap.None{}, nil
}

// staticWrapKey is the control channel key a session started with (the
// tls-crypt-v2 client key, the tls-crypt or tls-auth key; nil without
// one): dynamic tls-crypt mixes it into the renegotiation key.
func (s *Server) staticWrapKey(w tlswrap.Wrapper) []byte {
	if v2, ok := w.(*tlswrap.TLSCryptV2Server); ok {
		return v2.ClientKey()
	}
	if s.wrapMode != "" {
		return append([]byte(nil), s.wrapKey[:]...)
	}
	return nil
}

// v2Only reports whether only tls-crypt-v2 clients are accepted (a
// tls-crypt-v2 server key and no tls-auth or tls-crypt group key).
func (s *Server) v2Only() bool { return s.v2Key != nil && s.wrapMode == "" }

// acceptV2 unwraps the WKc a tls-crypt-v2 client appended to pkt (a
// HARD_RESET_CLIENT_V3 or P_CONTROL_WKC_V1) and applies the maximum key
// age. It returns the client's wrapper (which reads pkt as it is); it logs
// and returns false for packets to drop silently (as OpenVPN does).
func (s *Server) acceptV2(peer string, pkt []byte) (tlswrap.Wrapper, bool) {
	if s.v2Key == nil {
		s.log.Debug("dropped tls-crypt-v2 packet: no tls.tls_crypt_v2 server key", "peer", peer)
		return nil, false
	}
	maxAge := time.Duration(s.cfg.TLS.TLSCryptV2MaxAge) * 24 * time.Hour
	w, _, err := s.v2Key.AcceptV2(pkt, maxAge, s.now)
	if errors.Is(err, tlswrap.ErrKeyAge) {
		s.log.Info("refused tls-crypt-v2 client key", "peer", peer, "err", err)
		return nil, false
	}
	if err != nil {
		s.log.Debug("dropped tls-crypt-v2 packet", "peer", peer, "err", err)
		return nil, false
	}
	return w, true
}

// Run serves until ctx ends, then tells every client to reconnect
// elsewhere (RESTART), closes the sessions and returns. It returns early
// with an error when a listener or the TUN device cannot be set up.
func (s *Server) Run(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.sessCtx, s.sessCancel = context.WithCancel(context.WithoutCancel(ctx))
	defer s.sessCancel()
	defer s.cancel()
	c := s.cfg
	info := Info{}

	// Listeners first: a port in use is the most likely error.
	var udp *net.UDPConn
	var tcp *net.TCPListener
	if c.TCP {
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(c.ListenAddr))
		if err != nil {
			return fmt.Errorf("%s: listen: %w", c.Path, err)
		}
		tcp = l
		info.Listen = l.Addr().(*net.TCPAddr).AddrPort()
	} else {
		l, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(c.ListenAddr))
		if err != nil {
			return fmt.Errorf("%s: listen: %w", c.Path, err)
		}
		udp = l
		info.Listen = l.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	// closers are closed in reverse order once every goroutine of the
	// server has ended (the connection log and the TUN device's undo are
	// still used by sessions ending). services are stopped first on
	// shutdown: they are counted in s.wg, so they must end before the wait.
	closers := []io.Closer{}
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
	}()
	var listener io.Closer = tcp
	if udp != nil {
		listener = udp
	}
	defer listener.Close() // also on the early returns below
	var services []func() error
	devCloser := closerFunc(func() error { return nil })
	// stop ends everything Run started, in an order that bounds it: the
	// admin and metrics services first, then clients (told RESTART when
	// restart is set), then the listener and the device, and only then
	// waits for the goroutines they unblock.
	stop := func(restart bool) {
		s.cancel()
		for i := len(services) - 1; i >= 0; i-- {
			if err := services[i](); err != nil {
				s.log.Warn("stopping service", "err", err)
			}
		}
		if restart {
			s.restartSessions()
		}
		s.sessCancel() // sessions still handshaking end here
		listener.Close()
		devCloser.Close()
		s.wg.Wait()
	}

	switch {
	case s.opts.ConnLog != nil:
		s.clog = connlog.NewWriter(s.opts.ConnLog)
	case c.ConnectionLog.Path == "-":
		s.clog = connlog.NewWriter(os.Stdout)
	case c.ConnectionLog.Path != "":
		f, err := os.OpenFile(c.ConnectionLog.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return fmt.Errorf("connection_log.path: %w", err)
		}
		closers = append(closers, f)
		s.clog = connlog.NewWriter(f)
	}

	s.dev = s.opts.Device
	if s.dev == nil {
		dev, name, undo, err := createTUN(s.pool.Server(), s.pool.Prefix(), s.log)
		if err != nil {
			return err
		}
		s.dev = dev
		info.Device = name
		closers = append(closers, closerFunc(undo))
	}
	devCloser = closerFunc(func() error { return s.dev.Close() })

	if c.Metrics.Listen != "" {
		addr, stopMetrics, err := s.serveMetrics(c.Metrics.Listen)
		if err != nil {
			stop(false)
			return err
		}
		info.Metrics = addr
		services = append(services, stopMetrics)
	}
	if c.Authentication.WebAuth {
		ua, ok := s.auth.(UsersAuthenticator)
		if !ok {
			stop(false)
			return errors.New("authentication.web_auth needs the users file's authenticator")
		}
		stopWeb, err := s.serveWebAuth(c.Authentication.WebAuthListen, ua.Dir)
		if err != nil {
			stop(false)
			return err
		}
		services = append(services, stopWeb)
	}
	if c.Admin.Socket != "" {
		stopAdmin, err := s.serveAdmin(c.Admin.Socket)
		if err != nil {
			stop(false)
			return err
		}
		services = append(services, stopAdmin)
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.tunLoop()
	}()
	if udp != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.udpLoop(udp)
		}()
	} else {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.tcpLoop(tcp)
		}()
	}
	s.log.Info("server running", "listen", info.Listen.String(), "transport", c.Transport,
		"client_cidr", c.ClientPrefix.String(), "device", info.Device, "endpoint", c.EndpointID)
	if s.opts.Ready != nil {
		s.opts.Ready(info)
	}
	<-s.ctx.Done()
	s.log.Info("server stopping")
	stop(true)
	s.log.Info("server stopped")
	return nil
}

// restartSessions tells every client to reconnect (RESTART) and ends its
// session; it returns when all have ended.
func (s *Server) restartSessions() {
	s.mu.RLock()
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.RUnlock()
	var swg sync.WaitGroup
	for _, ss := range all {
		swg.Add(1)
		go func() {
			defer swg.Done()
			ss.shutdown("RESTART,server shutting down", "server shutdown")
		}()
	}
	swg.Wait()
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// register adds a new session.
func (s *Server) register(ss *session) {
	s.mu.Lock()
	s.sessions[ss.id] = ss
	if !ss.tcp {
		s.byPeer[ss.peer] = ss
	}
	s.mu.Unlock()
}

// unregister removes a session and frees its address.
func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	if !ss.tcp && s.byPeer[ss.remote()] == ss {
		delete(s.byPeer, ss.remote())
	}
	s.unpublishPeerIDLocked(ss)
	if ss.ip.IsValid() && s.byIP[ss.ip] == ss {
		delete(s.byIP, ss.ip)
	}
	s.mu.Unlock()
	if ss.ip.IsValid() {
		s.pool.Release(ss.ip)
	}
}

// publish makes an established session reachable by its tunnel address.
func (s *Server) publish(ss *session) {
	s.mu.Lock()
	s.byIP[ss.ip] = ss
	s.mu.Unlock()
	s.publishPeerID(ss)
}

func (s *Server) sessionByIP(a netip.Addr) *session {
	s.mu.RLock()
	ss := s.byIP[a]
	s.mu.RUnlock()
	return ss
}

func (s *Server) nextPeerID() uint32 {
	return atomic.AddUint32(&s.peerIDs, 1) & 0xFFFFFF
}

// Terminate ends a connection by id, like the administrator's
// TerminateClientVpnConnections.
func (s *Server) Terminate(id string) error {
	s.mu.RLock()
	ss := s.sessions[id]
	s.mu.RUnlock()
	if ss == nil {
		return fmt.Errorf("no connection %q", id)
	}
	s.wg.Add(1) // owned by Run, which waits for it on shutdown
	go func() {
		defer s.wg.Done()
		ss.shutdown("HALT,connection terminated by the administrator", "terminated by the administrator")
	}()
	return nil
}

// ConnectionInfo describes one connection for `cvpn server connections`.
type ConnectionInfo struct {
	ID             string    `json:"connection-id"`
	Status         string    `json:"status"`
	CommonName     string    `json:"common-name"`
	Username       string    `json:"username"`
	ClientIP       string    `json:"client-ip"`
	Endpoint       string    `json:"endpoint"`
	Transport      string    `json:"transport-protocol"`
	Start          time.Time `json:"connection-start-time"`
	IngressBytes   uint64    `json:"ingress-bytes"`
	EgressBytes    uint64    `json:"egress-bytes"`
	IngressPackets uint64    `json:"ingress-packets"`
	EgressPackets  uint64    `json:"egress-packets"`
	Dropped        uint64    `json:"dropped-packets"`
}

// Connections lists the current connections.
func (s *Server) Connections() []ConnectionInfo {
	s.mu.RLock()
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.RUnlock()
	out := make([]ConnectionInfo, 0, len(all))
	for _, ss := range all {
		out = append(out, ss.info())
	}
	sortConnections(out)
	return out
}

var errClosed = errors.New("session closed")
