package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cvpn/cvpn/app/session"
	"github.com/cvpn/cvpn/platform/killswitch"
)

func unblockCommand() command {
	return command{name: "unblock", summary: "lift the block of traffic outside the tunnel (--block-when-down)", run: runUnblock}
}

func runUnblock(_ context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("unblock", "cvpn unblock",
		"Lifts the block of traffic outside the tunnel that `cvpn connect --block-when-down` (or the\n"+
			"administrator's policy, block_when_down) holds while the tunnel is down, also one left by a\n"+
			"crashed cvpn, and says what it removed. Needs root (or CAP_NET_ADMIN); a block forced by the\n"+
			"policy may be lifted only by an administrator. A captive portal (hotel or airport Wi-Fi sign-in)\n"+
			"cannot be reached while traffic is blocked: lift the block, sign in, then connect again.")
	if _, code, ok := f.parse(args, 0, 0, stdout, stderr); !ok {
		return code
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "cvpn unblock: needs root (sudo cvpn unblock): the block is a firewall rule set")
		return 1
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
