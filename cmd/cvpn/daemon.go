package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cvpn/cvpn/app/daemon"
	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/session"
)

func daemonCommand() command {
	return command{name: "daemon", summary: "run the privileged service the GUI and CLI talk to", run: runDaemon}
}

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("daemon", "cvpn daemon [--socket PATH] [--admin-groups LIST] [--verbose]",
		"Runs the privileged cvpn service in the foreground until SIGINT/SIGTERM. Local users connect,\n"+
			"disconnect and read status through its socket ("+ipc.DefaultSocketPath+", or $"+ipc.EnvSocket+");\n"+
			"a connection belongs to the user who started it. Needs root. On start it undoes what a\n"+
			"crashed predecessor left behind (routes, DNS, TUN devices). Connection logs are written\n"+
			"under the state folder (/var/lib/cvpn/logs, or $CVPN_HOME/state/logs).")
	socket := f.String("socket", "", "listen on `PATH` (default $"+ipc.EnvSocket+" or "+ipc.DefaultSocketPath+")")
	admins := f.String("admin-groups", strings.Join(daemon.DefaultAdminGroups, ","), "comma-separated `GROUPS` whose members may disconnect any connection")
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
	var groups []string
	for _, g := range strings.Split(*admins, ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	m, err := daemon.New(daemon.Config{
		StateDir:   stateDir,
		Logger:     logger,
		Version:    version,
		Authorizer: daemon.Authorizer{AdminGroups: groups},
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
	logger.Info("cvpn daemon listening", "socket", path, "state", stateDir, "version", version)
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
