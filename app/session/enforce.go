package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

// Route journals live in the state directory as routes-<TunnelID>.json.
const (
	journalPrefix = "routes-"
	journalSuffix = ".json"
)

// stopTimeout bounds the restore of journaled routes at disconnect.
const stopTimeout = 30 * time.Second

// JournalPath is the route enforcement journal of tunnel id in stateDir.
// An empty id is platform.DefaultID, like the platform state file.
func JournalPath(stateDir, id string) string {
	if id == "" {
		id = platform.DefaultID
	}
	return filepath.Join(stateDir, journalPrefix+id+journalSuffix)
}

// EnforcementInput turns what the client applied into the facts the
// enforcement policy is built from: VPN prefixes are the tunnel routes
// (pushed and profile routes via the VPN gateway) plus the redirect-gateway
// halves; exempt are the net_gateway routes and the server's host routes.
func EnforcementInput(info client.TunnelInfo, adminForce bool) routing.PolicyInput {
	in := routing.PolicyInput{
		EndpointEnforces: info.EnforceRoutes,
		AdminForce:       adminForce,
		RedirectIPv4:     info.Config.RedirectIPv4,
		RedirectIPv6:     info.Config.RedirectIPv6,
		NetGatewayRoutes: append([]netip.Prefix(nil), info.Config.NetGatewayRoutes...),
		Tunnel:           routing.Tunnel{Name: info.Interface, Index: info.IfIndex},
	}
	for _, r := range info.Config.Routes {
		in.VPNRoutes = append(in.VPNRoutes, r.Dst)
	}
	in.ServerAddrs = append(in.ServerAddrs, info.Config.Servers...)
	if info.Server.IsValid() {
		in.ServerAddrs = append(in.ServerAddrs, info.Server)
	}
	return in
}

// EnforcerConfig is what StartEnforcement needs beyond the tunnel.
type EnforcerConfig struct {
	// Routes is the OS routing table (edits, lookups and the watcher).
	Routes EnforcementOS
	// JournalPath is the session's journal (see JournalPath).
	JournalPath string
	// ServerRoutesPath records the host routes to the VPN server pinned
	// for enforcement (see ServerRoutesPath); empty: next to the journal.
	ServerRoutesPath string
	// AdminForce turns enforcement on whatever the endpoint says.
	AdminForce bool
	Events     clientapi.EventSink
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// StartEnforcement starts client route enforcement for a tunnel that has
// just been configured: it restores what an earlier session left in the
// journal, removes the routes that conflict now (before it returns), and
// then follows the table through the platform's route watcher in a
// goroutine. Every removal and restore is sent to cfg.Events as a
// route-enforced event.
//
// The returned function ends enforcement: it stops the watcher, waits for
// its goroutine and restores every journaled route. It is safe to call more
// than once. StartEnforcement never fails the connection; problems are
// logged and reported as error events.
func StartEnforcement(info client.TunnelInfo, cfg EnforcerConfig) (stop func()) {
	stop, _ = startEnforcement(info, cfg)
	return stop
}

// startEnforcement is StartEnforcement that also returns update, which
// follows a change of the tunnel's routes (PUSH_UPDATE): routes removed for
// the old routes are put back and those conflicting with the new ones
// removed.
func startEnforcement(info client.TunnelInfo, cfg EnforcerConfig) (stop func(), update func(client.TunnelInfo)) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "route-enforcement")
	emit := func(ev clientapi.Event) {
		if cfg.Events != nil {
			cfg.Events(ev)
		}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	fail := func(msg string, err error) {
		log.Error(msg, "err", err)
		emit(clientapi.Event{Time: now(), Event: clientapi.EventError, Message: msg + ": " + err.Error()})
	}

	policy, err := routing.NewPolicy(EnforcementInput(info, cfg.AdminForce))
	if err != nil {
		// Keep the journal duty (leftovers) with enforcement off.
		fail("client route enforcement is off", err)
		policy, _ = routing.NewPolicy(EnforcementInput(info, false))
		policy.Enabled = false
	}
	e, err := routing.NewEnforcer(routing.Config{
		Policy:      policy,
		Table:       cfg.Routes,
		JournalPath: cfg.JournalPath,
		Logger:      log,
		Now:         now,
		OnEvent: func(ev routing.Event) {
			emit(clientapi.Event{
				Time:   ev.Time,
				Event:  clientapi.EventRouteEnforced,
				Action: ev.Action,
				Route:  ev.Route.String(),
				Detail: "inside VPN route " + ev.VPN.String(),
			})
		},
	})
	if err != nil {
		fail("client route enforcement cannot start", err)
		return func() {}, func(client.TunnelInfo) {}
	}
	unlock, held, err := tryLock(lockPath(cfg.JournalPath))
	switch {
	case err != nil:
		log.Warn("cannot lock the route journal; a concurrent recovery might restore routes early", "err", err)
		unlock = func() {}
	case held:
		log.Warn("another running session uses the same route journal", "journal", cfg.JournalPath)
		unlock = func() {}
	}
	pinPath := cfg.ServerRoutesPath
	if pinPath == "" {
		pinPath = filepath.Join(filepath.Dir(cfg.JournalPath), serverRoutesPrefix+
			strings.TrimSuffix(strings.TrimPrefix(filepath.Base(cfg.JournalPath), journalPrefix), journalSuffix)+serverRoutesSuffix)
	}
	if policy.Enabled {
		servers := append(slices.Clone(info.Config.Servers), info.Server)
		if _, err := pinServerRoutes(cfg.Routes, policy, servers, pinPath, log); err != nil {
			fail("keeping the VPN server reachable outside the tunnel", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.Start(ctx); err != nil {
		fail("client route enforcement", err)
	}
	var wg sync.WaitGroup
	if policy.Enabled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cfg.Routes.Watch(ctx, func(u platform.RouteUpdate) {
				if err := e.Handle(ctx, u.Changes...); err != nil && ctx.Err() == nil {
					log.Error("route enforcement", "err", err)
				}
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				fail("route watcher stopped; conflicting routes are no longer removed", err)
			}
		}()
	}
	update = func(ni client.TunnelInfo) {
		p, err := routing.NewPolicy(EnforcementInput(ni, cfg.AdminForce))
		if err != nil {
			fail("client route enforcement keeps the earlier routes", err)
			return
		}
		p.Enabled = policy.Enabled // the watcher runs (or not) as at the start
		if err := e.SetPolicy(ctx, p); err != nil {
			fail("client route enforcement after the route update", err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			sctx, scancel := context.WithTimeout(context.Background(), stopTimeout)
			defer scancel()
			if err := e.Stop(sctx); err != nil {
				fail("restoring the routes removed by client route enforcement (they stay in "+cfg.JournalPath+" and are restored at the next start)", err)
			}
			if err := unpinServerRoutes(cfg.Routes, pinPath); err != nil {
				fail("removing the host routes to the VPN server", err)
			}
			unlock()
		})
	}, update
}

// RecoverRoutes restores the routes left in the route journals of
// stateDir by cvpn runs that crashed or were killed, then deletes the host
// routes to the VPN server they had pinned, and returns how many routes it
// put back. A journal whose session is still running (in this or another
// process: its lock is held) is left alone. Journals that cannot be fully
// restored are kept and reported.
func RecoverRoutes(ctx context.Context, stateDir string, table routing.RouteTable, logger *slog.Logger) (int, error) {
	paths, err := journalFiles(stateDir)
	if err != nil || (len(paths) == 0 && len(serverRouteFiles(stateDir)) == 0) {
		return 0, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ids := map[string]bool{}
	for _, p := range paths {
		ids[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), journalPrefix), journalSuffix)] = true
	}
	for _, p := range serverRouteFiles(stateDir) {
		ids[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), serverRoutesPrefix), serverRoutesSuffix)] = true
	}
	var (
		errs  []error
		total int
	)
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		n, err := recoverTunnel(ctx, stateDir, id, table, logger)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// recoverTunnel restores the journal of tunnel id and drops its server
// host routes, holding the tunnel's lock.
func recoverTunnel(ctx context.Context, stateDir, id string, table routing.RouteTable, logger *slog.Logger) (int, error) {
	journal := JournalPath(stateDir, id)
	unlock, held, err := tryLock(lockPath(journal))
	if err != nil {
		return 0, err
	}
	if held {
		logger.Info("route journal belongs to a running session; leaving it", "journal", journal)
		return 0, nil
	}
	defer unlock()
	n, err := routing.Recover(ctx, journal, table, logger)
	if err != nil {
		return n, err // keep the server routes while routes wait to be restored
	}
	return n, unpinServerRoutes(table, ServerRoutesPath(stateDir, id))
}

// lockPath is the lock file a running session holds for its journal.
func lockPath(journal string) string { return strings.TrimSuffix(journal, journalSuffix) + ".lock" }

// hasJournals reports whether stateDir holds any route journal.
func hasJournals(stateDir string) bool {
	p, err := journalFiles(stateDir)
	return err == nil && len(p) > 0 || len(serverRouteFiles(stateDir)) > 0
}

// journalFiles lists the route journals in dir, sorted.
func journalFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, journalPrefix) && strings.HasSuffix(n, journalSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// tunnelUp is the client's OnTunnelUp for this session: it starts route
// enforcement, then calls o.OnTunnelUp when set; the returned down function
// calls o.OnTunnelUp's down first and ends enforcement last (restoring the
// removed routes while the tunnel is still up).
func (o *Options) tunnelUp(sys platform.System, force bool, follow *routesFollower, first func(client.TunnelInfo)) func(client.TunnelInfo) func() {
	return func(info client.TunnelInfo) func() {
		first(info)
		id := info.Config.ID
		if id == "" {
			id = o.TunnelID
		}
		stop, update := startEnforcement(info, EnforcerConfig{
			Routes:      sys,
			JournalPath: JournalPath(o.StateDir, id),
			AdminForce:  force,
			Events:      o.Events,
			Logger:      o.Logger,
		})
		follow.fn.Store(&update)
		var down func()
		if o.OnTunnelUp != nil {
			down = o.OnTunnelUp(info)
		}
		return func() {
			follow.fn.Store(nil)
			if down != nil {
				down()
			}
			stop()
		}
	}
}

// routesFollower hands the client's route updates (PUSH_UPDATE) to the
// route enforcement of the running tunnel.
type routesFollower struct {
	fn atomic.Pointer[func(client.TunnelInfo)]
}

func (f *routesFollower) routesUpdated(info client.TunnelInfo) {
	if p := f.fn.Load(); p != nil {
		(*p)(info)
	}
}
