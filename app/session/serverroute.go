package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cvpn/cvpn/internal/atomicfile"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/routing"
)

// The platform adds a host route to the VPN server only when the server is
// reached through a gateway: an on-link server is carried by the LAN's
// connected route, which is more specific than any tunnel route. With
// enforcement on, that connected route can itself be a conflict (full
// tunnel: it lies inside 0.0.0.0/1 or 128.0.0.0/1) and is removed, which
// would cut the tunnel's own transport. So before enforcement starts, the
// session pins a host route to every server a VPN prefix covers and that
// has none yet, through the hop it is reached by now. These routes carry
// ProtoCVPN, are exempt (server host routes), are recorded in
// serverroutes-<TunnelID>.json before they are added, and are deleted
// after enforcement has restored what it removed, or by Recover after a
// crash.
const (
	serverRoutesPrefix = "serverroutes-"
	serverRoutesSuffix = ".json"
)

// ServerRoutesPath is the record of the server host routes of tunnel id.
func ServerRoutesPath(stateDir, id string) string {
	if id == "" {
		id = platform.DefaultID
	}
	return filepath.Join(stateDir, serverRoutesPrefix+id+serverRoutesSuffix)
}

// EnforcementOS is what enforcement needs from the OS: the main routing
// table with its watcher, and route lookups (for the server host routes).
type EnforcementOS interface {
	platform.Routes
	RouteTo(dst netip.Addr) (platform.Hop, error)
}

// pinServerRoutes adds the missing host routes to the servers (see above)
// and returns the ones it added. The record at path is written before the
// first route is added.
func pinServerRoutes(sys EnforcementOS, policy routing.Policy, servers []netip.Addr, path string, log *slog.Logger) ([]routing.Route, error) {
	table, err := sys.List()
	if err != nil {
		return nil, err
	}
	var want []routing.Route
	for _, s := range servers {
		s = s.Unmap()
		host := routing.HostPrefix(s)
		if !s.IsValid() || !policy.VPN.ContainsAddr(s) || slices.ContainsFunc(want, func(r routing.Route) bool { return r.Dst == host }) {
			continue
		}
		if slices.ContainsFunc(table, func(r routing.Route) bool {
			return r.Dst == host && r.InMainTable() && !policy.Tunnel.Carries(r)
		}) {
			continue // the platform's bypass route (or one of the user's)
		}
		hop, err := sys.RouteTo(s)
		if err != nil {
			return nil, fmt.Errorf("route to server %s: %w", s, err)
		}
		if hop.Local || policy.Tunnel.Carries(routing.Route{Interface: hop.Interface, IfIndex: hop.IfIndex}) {
			continue
		}
		r := routing.Route{
			Dst: host, Gateway: hop.Gateway, Interface: hop.Interface, IfIndex: hop.IfIndex,
			Table: routing.MainTable, Protocol: platform.ProtoCVPN, Type: platform.TypeUnicast,
		}
		if !hop.Gateway.IsValid() && s.Is4() {
			r.Scope = platform.ScopeLink
		}
		want = append(want, r)
	}
	if len(want) == 0 {
		return nil, nil
	}
	if err := writeServerRoutes(path, want); err != nil {
		return nil, err
	}
	var added []routing.Route
	var errs []error
	for _, r := range want {
		if err := sys.Add(r); err != nil && !errors.Is(err, platform.ErrExists) {
			errs = append(errs, fmt.Errorf("host route to the VPN server %s: %w", r, err))
			continue
		}
		log.Info("pinned a host route to the VPN server", "route", r.String())
		added = append(added, r)
	}
	return added, errors.Join(errs...)
}

// unpinServerRoutes deletes the recorded server host routes and then the
// record. A route that is already gone is fine.
func unpinServerRoutes(sys interface{ Delete(routing.Route) error }, path string) error {
	routes, err := readServerRoutes(path)
	if err != nil || len(routes) == 0 {
		if err == nil {
			_ = os.Remove(path)
		}
		return err
	}
	var errs []error
	for _, r := range routes {
		if err := sys.Delete(r); err != nil && !errors.Is(err, platform.ErrNotFound) {
			errs = append(errs, fmt.Errorf("delete host route to the VPN server %s: %w", r, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func writeServerRoutes(path string, routes []routing.Route) error {
	data, err := json.MarshalIndent(routes, "", "  ")
	if err != nil {
		return fmt.Errorf("server routes %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("server routes: %w", err)
	}
	// No fsync: host routes do not outlive a reboot, and the page cache
	// keeps this record across a crash of the process.
	if err := atomicfile.Write(path, data, atomicfile.Options{Mode: 0o600}); err != nil {
		return fmt.Errorf("server routes: %w", err)
	}
	return nil
}

// readServerRoutes reads a record; a missing file is an empty one.
func readServerRoutes(path string) ([]routing.Route, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server routes: %w", err)
	}
	var routes []routing.Route
	if err := json.Unmarshal(data, &routes); err != nil {
		return nil, fmt.Errorf("server routes %s: %w", path, err)
	}
	return routes, nil
}

// serverRouteFiles lists the server route records in dir.
func serverRouteFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, serverRoutesPrefix) && strings.HasSuffix(n, serverRoutesSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}
