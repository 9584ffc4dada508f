package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one top-level subcommand. run gets the arguments after the
// command name and returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	// waitsForSignals is set for a command that calls waitSignals itself
	// (later than its start); run calls it first for every other command.
	waitsForSignals bool
}

// commands lists the top-level commands in help order; a new command is
// one file defining a command value plus one line here.
func commands() []command {
	return []command{
		versionCommand(),
		connectCommand(),
		profileCommand(),
		serverCommand(),
		daemonCommand(),
		serviceCommand(),
		statusCommand(),
		disconnectCommand(),
		unblockCommand(),
		diagnoseCommand(),
	}
}

func main() {
	ctx, stop := handleSignals(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a command: exit 2 with usage on stderr for an unknown
// or missing command, 0 with usage on stdout for help.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		writeUsage(stdout)
		return 0
	case "help":
		if len(args) == 1 {
			writeUsage(stdout)
			return 0
		}
		return run(ctx, append(args[1:len(args):len(args)], "--help"), stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == name {
			if !c.waitsForSignals {
				waitSignals(ctx)
			}
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cvpn: unknown command %q\n\n", name)
	writeUsage(stderr)
	return 2
}

func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("cvpn: VPN client for AWS Client VPN and OpenVPN endpoints\n\nusage: cvpn COMMAND [ARGUMENTS]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun cvpn COMMAND --help for the arguments of a command.\n")
	io.WriteString(w, b.String())
}
