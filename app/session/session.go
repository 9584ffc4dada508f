package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/ovpn/client"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/ovpn/transport"
	"github.com/cvpn/cvpn/platform"
	"github.com/cvpn/cvpn/platform/killswitch"
)

// Options configure one connection.
type Options struct {
	Profile     *profile.Profile
	Credentials clientapi.Credentials
	// StateDir holds crash-recovery state (platform changes, route
	// journal); DefaultStateDir when empty.
	StateDir string
	// TunnelID distinguishes simultaneous connections' state files.
	TunnelID string
	Events   clientapi.EventSink
	Logger   *slog.Logger
	Version  string
	// NoEKM makes the server derive keys with the OpenVPN PRF (the
	// CVPN_KEY_DERIVATION=prf environment variable of cvpn connect).
	NoEKM bool
	// Host, when set, is used instead of opening the OS network stack.
	Host platform.System
	// NoDNS leaves the OS DNS settings alone even when the server pushes
	// DNS servers (the daemon gives DNS to one session only).
	NoDNS bool
	// Federation runs the browser part of SAML sign-in (auth-federate
	// profiles); see samlflow/signin.
	Federation clientapi.Federation
	// OnTunnelUp is passed to client.Config.OnTunnelUp.
	OnTunnelUp func(client.TunnelInfo) (down func())
	// OnClient, when set, is called with the client before it runs (the
	// daemon reads its traffic counters with Client.Stats).
	OnClient func(*client.Client)
	// EnforceRoutes forces client route enforcement on whatever the
	// endpoint says (`cvpn connect --enforce-routes`, an admin policy).
	EnforceRoutes bool
	// BlockWhenDown blocks traffic outside the tunnel from the moment
	// connect starts until the user disconnects, also while reconnecting
	// (`cvpn connect --block-when-down`, the GUI's per-profile switch).
	BlockWhenDown bool
	// BlockForced forces BlockWhenDown as the administrator's policy does
	// (block_when_down in the policy file, read by Run); such a block can
	// be lifted only by an administrator.
	BlockForced bool
	// BlockUID is the user who chose the block (the daemon's client);
	// 0 means the process's user.
	BlockUID int
	// BlockDir holds the block's record (one block per machine: the
	// daemon passes its state root); StateDir when empty.
	BlockDir string
	// OnBlock, when set, is called with the block once it is held (the
	// daemon lifts it on a user's request).
	OnBlock func(*killswitch.Block)
	// Firewall holds the block; nil opens the OS backend.
	Firewall killswitch.Firewall
	// PolicyFile is the administrator's policy file (app/policy;
	// client_route_enforcement = "force" forces enforcement on);
	// policy.Resolve("") when empty.
	PolicyFile string
	// NetChanges, when set, tells the client about network changes (see
	// client.Config.NetChanges); cvpn connect and the daemon feed it from
	// the network monitor.
	NetChanges <-chan client.NetChange
	// WatchNetwork runs a network monitor (platform/netmon) for the
	// session when NetChanges is nil: the client then follows address,
	// route and link changes and resumes at once.
	WatchNetwork bool
	// DisconnectOnSleep ends the session with ErrSlept when the machine
	// goes to sleep (logind's PrepareForSleep, Windows' suspend event) or,
	// where only the wake-up is seen (the clock-jump check, the client's
	// own suspension check), when it has resumed: the profile setting
	// "Reconnect after the computer wakes up" off. The tunnel is torn
	// down as after a disconnect and stays down. Needs WatchNetwork for
	// the sleep itself.
	DisconnectOnSleep bool
}

// ErrSlept ends a session with Options.DisconnectOnSleep when the machine
// went to sleep.
var ErrSlept = errors.New("disconnected because the computer went to sleep")

// noDNSTunnel applies tunnel configurations without their DNS part.
type noDNSTunnel struct{ client.Tunnel }

func (n noDNSTunnel) Apply(cfg platform.TunnelConfig) (*platform.Applied, error) {
	cfg.DNS = nil
	return n.Tunnel.Apply(cfg)
}

// DefaultStateDir is where crash-recovery state lives: $CVPN_HOME/state
// when CVPN_HOME is set, /var/lib/cvpn for root, else the user's data root.
func DefaultStateDir() (string, error) {
	if h := os.Getenv(profilestore.EnvHome); h != "" {
		return filepath.Join(h, "state"), nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/cvpn", nil
	}
	root, err := profilestore.DefaultRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "state"), nil
}

// Recover undoes every change a crashed cvpn left in stateDir: first it
// restores the routes client route enforcement removed (the route
// journals), then it undoes the platform changes (TUN devices, routes,
// DNS). It is safe to call at every start; it opens the OS network stack
// only when there is something to undo.
func Recover(stateDir string, logger *slog.Logger) error {
	return recoverWith(context.Background(), stateDir, nil, logger)
}

// recoverWith is Recover on sys, or on the OS (opened when needed) when sys
// is nil.
func recoverWith(ctx context.Context, stateDir string, sys platform.System, logger *slog.Logger) error {
	var errs []error
	if hasJournals(stateDir) {
		s := sys
		if s == nil {
			h, err := platform.Open(platform.OpenOptions{Logger: logger})
			if err != nil {
				return fmt.Errorf("restoring routes removed by a previous cvpn run: %w", err)
			}
			defer h.Close()
			s = h
		}
		if n, err := RecoverRoutes(ctx, stateDir, s, logger); err != nil {
			errs = append(errs, fmt.Errorf("restoring routes removed by a previous cvpn run: %w", err))
		} else if n > 0 {
			logger.Warn("restored routes removed by a previous cvpn run", "routes", n)
		}
	}
	var err error
	if sys == nil {
		err = platform.Recover(stateDir, logger)
	} else {
		err = (&platform.Configurator{Sys: sys, StateDir: stateDir, Logger: logger}).Recover()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("cleaning up after a previous cvpn run: %w", err))
	}
	return errors.Join(errs...)
}

// Run connects and stays connected until ctx ends (nil after a clean
// disconnect) or a fatal error.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return err
		}
		o.StateDir = d
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := recoverWith(ctx, o.StateDir, o.Host, o.Logger); err != nil {
		return err
	}
	pol, err := policy.Load(policy.Resolve(o.PolicyFile))
	if err != nil {
		return err
	}
	force := o.EnforceRoutes || pol.ForceEnforcement()
	sys := o.Host
	if sys == nil {
		h, err := platform.Open(platform.OpenOptions{Logger: o.Logger})
		if err != nil {
			return err
		}
		defer h.Close()
		sys = h
	}
	if o.BlockDir == "" {
		o.BlockDir = o.StateDir
	}
	want, forced := o.wantsBlock(pol.BlockWhenDown)
	block, fw, err := o.startBlock(want, forced)
	if err != nil {
		return err
	}
	var resolver transport.Resolver
	var control func(network, address string, c syscall.RawConn) error
	if block != nil && o.OnBlock != nil {
		o.OnBlock(block)
	}
	if block != nil {
		mark := block.Rules().Mark
		control = killswitch.MarkControl(mark)
		if r := markedResolver(mark); r != nil {
			resolver = r
		}
	}
	parent := ctx
	ctx, endSession := context.WithCancelCause(ctx)
	defer endSession(nil)
	var onSleep func(string)
	if o.DisconnectOnSleep {
		onSleep = func(detail string) {
			if context.Cause(ctx) == nil {
				o.Logger.Info("disconnecting: the computer went to sleep and the profile does not reconnect after a resume", "detail", detail)
			}
			endSession(ErrSlept)
		}
		events := o.Events
		o.Events = func(ev clientapi.Event) {
			if ev.Event == clientapi.EventResumed {
				onSleep(ev.Detail) // the client's own suspension check
			}
			if events != nil {
				events(ev)
			}
		}
	}
	if o.NetChanges == nil && o.WatchNetwork {
		wctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer wg.Wait()
		defer stop()
		ch, err := watchNetwork(wctx, o.Logger, &wg, onSleep)
		if err != nil {
			o.Logger.Warn("no network monitor; network changes are noticed at the next failed send", "err", err)
		} else {
			o.NetChanges = ch
		}
	}
	var tunnel client.Tunnel = &platform.Configurator{Sys: sys, StateDir: o.StateDir, Logger: o.Logger}
	if o.NoDNS {
		tunnel = noDNSTunnel{tunnel}
	}
	follow := &routesFollower{}
	c, err := client.New(client.Config{
		Profile:     o.Profile,
		Credentials: o.Credentials,
		Tunnel:      tunnel,
		TunnelID:    o.TunnelID,
		Events:      o.Events,
		Logger:      o.Logger,
		Version:     o.Version,
		NoEKM:       o.NoEKM,
		OnTunnelUp: o.tunnelUp(sys, force, follow, func(info client.TunnelInfo) {
			if block != nil {
				o.blockTunnelUp(block, fw, info)
			}
		}),
		OnRoutesUpdated: follow.routesUpdated,
		Federation:      o.Federation,
		Resolver:        resolver,
		SocketControl:   control,
		NetChanges:      o.NetChanges,
	})
	if err != nil {
		if block != nil {
			o.endBlock(block, true)
		}
		return err
	}
	if o.OnClient != nil {
		o.OnClient(c)
	}
	err = c.Run(ctx)
	if block != nil {
		o.endBlock(block, err == nil || ctx.Err() != nil)
	}
	if parent.Err() == nil && errors.Is(context.Cause(ctx), ErrSlept) {
		return ErrSlept
	}
	return err
}

// IsAuthFailure reports whether err means the server refused the user.
func IsAuthFailure(err error) bool { return errors.Is(err, clientapi.ErrAuthFailed) }
