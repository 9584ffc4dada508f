package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cvpn/cvpn/app/daemon"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/policy"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/platform/netmon"
)

func daemonCommand() command {
	return command{name: "daemon", summary: "run the privileged service the GUI and CLI talk to", run: runDaemon}
}

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("daemon", "cvpn daemon [--socket PATH] [--policy FILE] [--admin-groups LIST] [--verbose]",
		"Runs the privileged cvpn service in the foreground until SIGINT/SIGTERM. Local users connect,\n"+
			"disconnect and read status through its socket ("+ipc.DefaultSocketPath+", or $"+ipc.EnvSocket+");\n"+
			"a connection belongs to the user who started it. Needs root. On start it undoes what a\n"+
			"crashed predecessor left behind (routes, DNS, TUN devices). Connection logs are written\n"+
			"under the state folder (/var/lib/cvpn/logs, or $CVPN_HOME/state/logs).\n\n"+
			"The administrator's policy file (--policy, else $"+policy.EnvPolicy+", else "+policy.DefaultPath()+")\n"+
			"is read at start, under the values a GPO or MDM set (Windows: HKLM\\SOFTWARE\\Policies\\cvpn\\cvpn;\n"+
			"macOS: managed preferences "+policy.ManagedDomain+"), which win key by key. A bad file or value\n"+
			"stops the daemon naming the line or value and the key at fault. Its autoconnect\n"+
			"profiles (system profiles from profiles_dir) are connected at start and kept up.")
	policyFile := f.String("policy", "", "read the administrator's policy from `FILE`")
	socket := f.String("socket", "", "listen on `PATH` (default $"+ipc.EnvSocket+" or "+ipc.DefaultSocketPath+")")
	admins := f.String("admin-groups", strings.Join(daemon.DefaultAdminGroups, ","), "comma-separated `GROUPS` whose members may disconnect any connection (overrides the policy's admin_groups)")
	verbose := f.Bool("verbose", false, "log protocol details")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	if msg := daemonPrivilegeError(); msg != "" {
		fmt.Fprintln(stderr, "cvpn daemon: "+msg)
		return 1
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	stateDir, err := session.DefaultStateDir()
	if err != nil {
		fmt.Fprintf(stderr, "cvpn daemon: %v\n", err)
		return 1
	}
	pol, err := policy.Load(policy.Resolve(*policyFile))
	if err != nil {
		fmt.Fprintf(stderr, "cvpn daemon: %v\n", err)
		return 1
	}
	adminFlag := false
	f.Visit(func(fl *flag.Flag) { adminFlag = adminFlag || fl.Name == "admin-groups" })
	groups := adminGroups(pol, adminFlag, *admins)
	// The network monitor (platform/netmon): what it saw goes into the
	// diagnostics; sessions do not consume its changes yet.
	var netMon interface{ Recent() []netmon.Change }
	monCtx, stopMon := context.WithCancel(ctx)
	monDone := make(chan struct{})
	if mon, err := netmon.New(netmon.Options{Logger: logger}); err != nil {
		logger.Warn("no network monitor", "err", err)
		close(monDone)
	} else {
		netMon = mon
		go func() {
			defer close(monDone)
			if err := mon.Run(monCtx); err != nil && monCtx.Err() == nil {
				logger.Warn("network monitor stopped", "err", err)
			}
		}()
	}
	defer func() {
		stopMon()
		<-monDone
	}()
	m, err := daemon.New(daemon.Config{
		NetworkMonitor: netMon,
		StateDir:       stateDir,
		Logger:         logger,
		Version:        version,
		Authorizer:     daemon.Authorizer{AdminGroups: groups},
		MaxConnections: pol.MaxConnections,
		PolicyFile:     pol.Path,
		SystemProfiles: pol.ProfilesDir,
		Autoconnect:    pol.Autoconnect,
	})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn daemon: %v\n", err)
		return 1
	}
	if err := m.Recover(); err != nil {
		logger.Error("cleanup after a previous run was incomplete", "err", err)
	}
	path := *socket
	if path == "" {
		path = ipc.SocketPath()
	}
	l, err := ipc.Listen(path)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn daemon: %v\n", err)
		return 1
	}
	logger.Info("cvpn daemon listening", "socket", path, "state", stateDir, "version", version,
		"policy", pol.Path, "policy_found", pol.Found, "policy_managed", pol.Managed, "autoconnect", strings.Join(pol.Autoconnect, ","))
	m.Autoconnect()
	srv := &ipc.Server{Handler: m, Logger: logger}
	serr := srv.Serve(ctx, l)
	m.Close()
	if serr != nil {
		fmt.Fprintf(stderr, "cvpn daemon: %v\n", serr)
		return 1
	}
	logger.Info("cvpn daemon stopped")
	return 0
}

// adminGroups decides the admin groups: the --admin-groups flag when given,
// else the policy's admin_groups when it has them, else the flag's default.
// An empty flag value means the defaults, as before the policy existed.
func adminGroups(pol policy.Policy, flagSet bool, flagValue string) []string {
	if !flagSet && pol.AdminGroups != nil {
		return pol.AdminGroups
	}
	var groups []string
	for _, g := range strings.Split(flagValue, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	return groups
}
