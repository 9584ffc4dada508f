package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cvpn/cvpn/ovpn/server"
)

func runServerPushUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("cvpn server push-update", "cvpn server push-update --config FILE CONNECTION_ID [--] OPTION...",
		"Send OpenVPN 2.7's PUSH_UPDATE to one live connection: each OPTION is one pushed option in one\n"+
			"argument (\"route 10.1.0.0 255.255.0.0\"), replacing every earlier value of that option; \"-route\"\n"+
			"removes it, a leading \"?\" makes it optional. Put \"--\" before options that start with \"-\".\n"+
			"Updatable: route, route-ipv6, dns, dhcp-option, redirect-gateway, ifconfig, tun-mtu and a few more.")
	cfgPath := configFlag(f)
	pos, code, ok := f.parse(args, 2, 1<<16, stdout, stderr)
	if !ok {
		return code
	}
	sock, ok := adminSocket("cvpn server push-update", *cfgPath, stderr)
	if !ok {
		return 1
	}
	if _, err := server.AdminCall(ctx, sock, server.AdminRequest{Command: "push-update", ConnectionID: pos[0], Options: pos[1:]}); err != nil {
		fmt.Fprintf(stderr, "cvpn server push-update: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "sent PUSH_UPDATE to %s\n", pos[0])
	return 0
}
