package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
)

func disconnectCommand() command {
	return command{name: "disconnect", summary: "disconnect a daemon connection (or --all)", run: runDisconnect}
}

func runDisconnect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("disconnect", "cvpn disconnect [NAME | --all]",
		"Asks the cvpn daemon to disconnect connection NAME, or with --all every connection you may\n"+
			"control, and waits until routes and DNS are restored. You may disconnect the connections\n"+
			"you started; root and members of the admin groups may disconnect any.")
	all := f.Bool("all", false, "disconnect every connection you may control")
	pos, code, ok := f.parse(args, 0, 1, stdout, stderr)
	if !ok {
		return code
	}
	if (len(pos) == 1) == *all {
		fmt.Fprintln(stderr, "disconnect: give a connection NAME or --all (see cvpn status)")
		f.writeHelp(stderr)
		return 2
	}
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	}
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, ipc.SocketPath(), ipc.ClientOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn disconnect: %v\n", err)
		return 1
	}
	defer c.Close()
	names, err := c.Disconnect(ctx, name, *all)
	for _, n := range names {
		fmt.Fprintf(stdout, "Disconnected %s.\n", n)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cvpn disconnect: %v\n", err)
		return 1
	}
	if len(names) == 0 {
		fmt.Fprintln(stdout, "No connections.")
	}
	return 0
}
