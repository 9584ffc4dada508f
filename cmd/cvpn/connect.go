package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cvpn/cvpn/app/credentials"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/profilestore"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/ovpn/clientapi"
	"github.com/cvpn/cvpn/ovpn/profile"
	"github.com/cvpn/cvpn/samlflow/signin"
)

func connectCommand() command {
	return command{name: "connect", summary: "connect with a stored profile or a .ovpn file (foreground)", run: runConnect, waitsForSignals: true}
}

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("connect", "cvpn connect TARGET [--auth-user-pass FILE] [--no-browser] [--enforce-routes] [--block-when-down] [--policy FILE] [--json] [--verbose]",
		"Connects with TARGET, a stored profile name or a path to a .ovpn file, and keeps the tunnel up\n"+
			"in the foreground until Ctrl-C or SIGTERM, reconnecting by itself after network loss. On exit\n"+
			"every route and DNS setting is restored. Needs root (or CAP_NET_ADMIN); without it the daemon\n"+
			"connects. A system profile (the policy's profiles_dir) wins over a stored one of the same name.\n\n"+
			"Exit status: 0 after a requested disconnect, 3 when the server refuses the credentials, 1 otherwise.")
	authFile := f.String("auth-user-pass", "", "read credentials from `FILE`: line 1 user, line 2 password, optional line 3 MFA code")
	noBrowser := f.Bool("no-browser", false, "print the sign-in URL instead of opening a browser (federated profiles)")
	asJSON := f.Bool("json", false, "print one JSON event per line on stdout")
	verbose := f.Bool("verbose", false, "log protocol details on stderr")
	enforceRoutes := f.Bool("enforce-routes", false, "enforce the VPN's routes (remove conflicting LAN routes while connected) even when the server does not ask for it")
	blockWhenDown := f.Bool("block-when-down", false, "block traffic outside the tunnel from now until you disconnect, also while reconnecting (lift it with `cvpn unblock`)")
	policyFile := f.String("policy", "", "read the administrator's policy from `FILE` (default $"+policy.EnvPolicy+" or "+policy.DefaultPath()+")")
	pos, code, ok := f.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return code
	}
	target := pos[0]
	pol, ok := loadPolicy(*policyFile, stderr)
	if !ok {
		return 1
	}
	root := os.Geteuid() == 0
	p, err := loadTarget(target, pol, root)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
		return 1
	}
	// A stored profile's "Reconnect after the computer wakes up" (on
	// unless the user turned it off in the app).
	sleepEnds := !storedSettings(target, pol).ReconnectAfterResume
	// From here on a signal must disconnect cleanly.
	waitSignals(ctx)
	if !root {
		return connectViaDaemon(ctx, target, p, *authFile, *asJSON, *noBrowser, ipc.ConnectOptions{Bind: true, BlockWhenDown: *blockWhenDown, NoReconnectAfterResume: sleepEnds}, stdout, stderr)
	}

	var creds clientapi.Credentials
	term := credentials.NewTerminal()
	if *authFile != "" {
		cf, err := credentials.ReadFile(*authFile, term)
		if err != nil {
			fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
			return 1
		}
		creds = cf
	} else if term != nil {
		creds = term
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	out := newEventPrinter(stdout, *asJSON)
	fed := &signin.Browser{NoBrowser: *noBrowser, Logger: logger, OnManual: func(url, reason string) {
		if !*asJSON {
			fmt.Fprintf(stderr, "Open this address in your browser to sign in (%s):\n%s\n", reason, url)
		}
	}}
	err = session.Run(ctx, session.Options{
		Federation:    fed,
		Profile:       p,
		Credentials:   creds,
		Events:        out.print,
		Logger:        logger,
		Version:       version,
		NoEKM:         os.Getenv("CVPN_KEY_DERIVATION") == "prf",
		EnforceRoutes: *enforceRoutes,
		BlockWhenDown: *blockWhenDown,
		PolicyFile:    pol.Path,
		WatchNetwork:  true,
		// Ends with session.ErrSlept, printed below.
		DisconnectOnSleep: sleepEnds,
	})
	switch {
	case err == nil:
		return 0
	case session.IsAuthFailure(err):
		if !*asJSON {
			fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
		}
		return 3
	default:
		if !*asJSON {
			fmt.Fprintf(stderr, "cvpn connect: %v\n", err)
		}
		return 1
	}
}

// loadTarget reads a .ovpn file by path, else a system profile by name,
// else a stored profile by name. A system profile the user may not read
// (root-only) is nil with no error: the daemon reads it.
func loadTarget(target string, pol policy.Policy, privileged bool) (*profile.Profile, error) {
	if sys := systemStore(pol); !strings.ContainsAny(target, "/\\") && sys.Has(target) {
		p, ds, err := sys.Load(target)
		if errors.Is(err, fs.ErrPermission) && !privileged {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if ds.HasErrors() {
			return nil, fmt.Errorf("system profile %s has errors:\n%s", target, ds.String())
		}
		return p, nil
	}
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		p, ds, err := profile.ParseFile(target, profile.Options{})
		if err != nil {
			return nil, err
		}
		if ds.HasErrors() {
			return nil, fmt.Errorf("the profile has errors:\n%s", ds.String())
		}
		return p, nil
	}
	root, err := profilestore.DefaultRoot()
	if err != nil {
		return nil, err
	}
	st, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		return nil, err
	}
	p, ds, err := st.Load(target)
	if err != nil {
		if strings.ContainsAny(target, "/\\.") {
			return nil, fmt.Errorf("%s: no such file or stored profile", target)
		}
		return nil, err
	}
	if ds.HasErrors() {
		return nil, fmt.Errorf("stored profile %s has errors:\n%s", target, ds.String())
	}
	return p, nil
}

// storedSettings are the settings of target when it names a stored
// profile of the user's (not a file, not a system profile); the defaults
// otherwise or when they cannot be read.
func storedSettings(target string, pol policy.Policy) profilestore.Settings {
	def := profilestore.DefaultSettings()
	if strings.ContainsAny(target, "/\\") || systemStore(pol).Has(target) {
		return def
	}
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		return def
	}
	root, err := profilestore.DefaultRoot()
	if err != nil {
		return def
	}
	store, err := profilestore.Open(root, profilestore.Options{})
	if err != nil {
		return def
	}
	st, err := store.Settings(target)
	if err != nil {
		return def
	}
	return st
}

// eventPrinter writes connection events as JSON lines or as human text.
type eventPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	json    bool
	enc     *json.Encoder
	started time.Time
}

func newEventPrinter(w io.Writer, asJSON bool) *eventPrinter {
	return &eventPrinter{w: w, json: asJSON, enc: json.NewEncoder(w), started: time.Now()}
}

func (e *eventPrinter) print(ev clientapi.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.json {
		ev.Time = ev.Time.UTC().Truncate(time.Second)
		_ = e.enc.Encode(ev) // time.Time truncated to seconds encodes as RFC 3339
		return
	}
	if line := humanEvent(ev); line != "" {
		fmt.Fprintln(e.w, line)
	}
}

func humanEvent(ev clientapi.Event) string {
	switch ev.Event {
	case clientapi.EventState:
		switch ev.State {
		case clientapi.StateResolving:
			return "Resolving " + ev.Detail + " ..."
		case clientapi.StateConnecting:
			return "Connecting to " + ev.Server + " ..."
		case clientapi.StateAuthenticating:
			return "Authenticating ..."
		case clientapi.StateWaitingForBrowser:
			return "Waiting for you to sign in with your browser ..."
		case clientapi.StateConfiguring:
			return "Configuring the tunnel ..."
		case clientapi.StateConnected:
			s := fmt.Sprintf("Connected to %s on %s", ev.Server, ev.Interface)
			if ev.TunnelIPv4 != "" {
				s += ", address " + ev.TunnelIPv4
			}
			if ev.TunnelIPv6 != "" {
				s += ", " + ev.TunnelIPv6
			}
			return s + ", cipher " + ev.Cipher + ". Press Ctrl-C to disconnect."
		case clientapi.StateReconnecting:
			return "Connection lost; reconnecting (" + ev.Detail + ") ..."
		case clientapi.StateDisconnecting:
			return "Disconnecting ..."
		case clientapi.StateDisconnected:
			return "Disconnected."
		}
		return string(ev.State)
	case clientapi.EventBanner:
		return "Message from your administrator:\n" + ev.Text
	case clientapi.EventSAML, clientapi.EventWebAuth:
		return "Sign in with your browser: " + ev.URL
	case clientapi.EventRouteEnforced:
		return fmt.Sprintf("Route %s: %s", ev.Action, ev.Route)
	case clientapi.EventBlocked:
		return "Blocking: " + ev.Message + "."
	case clientapi.EventUnblocked:
		return "Unblocked: " + ev.Message
	case clientapi.EventError:
		return "Error: " + ev.Message
	case clientapi.EventLog:
		return ev.Message
	case clientapi.EventNetworkChanged:
		return "Network changed (" + ev.Detail + "); moving the connection ..."
	case clientapi.EventResumed:
		return "Resumed (" + ev.Detail + "); checking the connection ..."
	case clientapi.EventReauthRequired:
		return "Your sign-in expired: sign in again with your browser."
	}
	return ""
}
