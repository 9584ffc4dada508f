package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cvpn/cvpn/app/ipc"
	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/platform/killswitch"
)

func unblockCommand() command {
	return command{name: "unblock", summary: "lift the block of traffic outside the tunnel (--block-when-down)", run: runUnblock}
}

func runUnblock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("unblock", "cvpn unblock",
		"Lifts the block of traffic outside the tunnel that `cvpn connect --block-when-down` (or the\n"+
			"administrator's policy, block_when_down) holds while the tunnel is down, also one left by a\n"+
			"crashed cvpn, and says what it removed. As root it removes the block itself; otherwise it asks\n"+
			"the cvpn daemon, which lifts blocks you chose; a block forced by the policy may be lifted only\n"+
			"by an administrator (root or the admin groups). A lifted block stays off until that connection ends. A captive portal (hotel or airport Wi-Fi sign-in)\n"+
			"cannot be reached while traffic is blocked: lift the block, sign in, then connect again.")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	if os.Geteuid() != 0 {
		return unblockViaDaemon(ctx, stdout, stderr)
	}
	dir, err := session.DefaultStateDir()
	if err != nil {
		fmt.Fprintf(stderr, "cvpn unblock: %v\n", err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fw, err := killswitch.Open(logger)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn unblock: %v\n", err)
		return 1
	}
	l, err := killswitch.LiftRecorded(fw, dir)
	if err != nil {
		fmt.Fprintf(stderr, "cvpn unblock: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, l.String())
	return 0
}

// unblockViaDaemon asks the daemon to lift the blocks the user may lift.
func unblockViaDaemon(ctx context.Context, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := ipc.Dial(ctx, ipc.SocketPath(), ipc.ClientOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "cvpn unblock: %v (as root, sudo cvpn unblock works without the daemon)\n", err)
		return 1
	}
	defer c.Close()
	text, err := c.Unblock(ctx)
	if text != "" {
		fmt.Fprintln(stdout, text)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cvpn unblock: %v\n", err)
		return 1
	}
	return 0
}
